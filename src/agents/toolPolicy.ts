import type { ResolvedToolPolicy, ToolPolicy } from './types.js';

/**
 * Without a policy a tool gets three attempts of 30 s each, and at most five minutes in all.
 * A time bound alone (`maxDurationMs`) retries without an attempt limit: a tool whose dependency
 * is down for a while then waits it out instead of giving up after a count of quick failures.
 */
export const DEFAULT_TOOL_POLICY: Required<ResolvedToolPolicy> = {
  timeoutMs: 30_000,
  maxAttempts: 3,
  maxDurationMs: 300_000,
};

/** The retry backoff of every tool activity (Temporal's exponential backoff, coefficient 2). */
export const TOOL_RETRY = { initialIntervalMs: 1_000, maximumIntervalMs: 30_000 } as const;

/** The wait Temporal puts before the attempt after `attempt` (1-based). */
export function retryDelayMs(attempt: number): number {
  return Math.min(TOOL_RETRY.initialIntervalMs * 2 ** (attempt - 1), TOOL_RETRY.maximumIntervalMs);
}

/** Fills a tool's policy from the defaults; `maxAttempts` 0 means no attempt limit. */
export function resolveToolPolicy(policy: ToolPolicy | undefined): Required<ResolvedToolPolicy> {
  const p = policy ?? {};
  return {
    timeoutMs: p.timeoutMs ?? DEFAULT_TOOL_POLICY.timeoutMs,
    maxAttempts: p.maxAttempts ?? (p.maxDurationMs !== undefined ? 0 : DEFAULT_TOOL_POLICY.maxAttempts),
    maxDurationMs: p.maxDurationMs ?? DEFAULT_TOOL_POLICY.maxDurationMs,
  };
}

/** What is wrong with a tool's policy, each naming the field and the fix. */
export function toolPolicyProblems(name: string, policy: ToolPolicy): string[] {
  const problems: string[] = [];
  const field = (f: string) => `toolPolicies.${name}.${f}`;
  const wholeMs = (v: unknown) => Number.isInteger(v) && (v as number) >= 100;
  if (policy.timeoutMs !== undefined && !wholeMs(policy.timeoutMs)) {
    problems.push(`${field('timeoutMs')} must be a whole number of milliseconds, at least 100`);
  }
  if (policy.maxDurationMs !== undefined && !wholeMs(policy.maxDurationMs)) {
    problems.push(`${field('maxDurationMs')} must be a whole number of milliseconds, at least 100`);
  }
  if (
    policy.maxAttempts !== undefined &&
    !(Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1)
  ) {
    problems.push(
      `${field('maxAttempts')} must be a whole number of at least 1 (leave it out to retry until maxDurationMs)`,
    );
  }
  const resolved = resolveToolPolicy(policy);
  if (!problems.length && resolved.maxDurationMs < resolved.timeoutMs) {
    problems.push(
      `${field('maxDurationMs')} (${resolved.maxDurationMs}) must be at least its timeoutMs (${resolved.timeoutMs})`,
    );
  }
  return problems;
}

/**
 * Whether a failed attempt is the tool's last: its attempts are used up, or the next attempt
 * would start after its time bound. The last failure becomes the output the model sees.
 */
export function isLastAttempt(
  attempt: number,
  maxAttempts: number,
  nowMs: number,
  deadlineMs: number | undefined,
): boolean {
  if (maxAttempts > 0 && attempt >= maxAttempts) return true;
  return deadlineMs !== undefined && nowMs + retryDelayMs(attempt) >= deadlineMs;
}
