import { z } from 'zod';
import { ApiError } from './errors.js';

export type FaultKind =
  | 'rate_limit'
  | 'quota'
  | 'server_error'
  | 'latency'
  | 'drop_connection'
  | 'lose_answer'
  | 'error'
  /** Streamed requests only (`stream: true`): the delay applies before every event (a slow stream). */
  | 'slow_stream'
  /** Streamed requests only: the connection closes after `afterEvents` events, with no terminal event. */
  | 'cut_stream'
  /** Streamed requests only: an `error` event after `afterEvents` events ends the stream. */
  | 'stream_error';

export interface FaultRule {
  kind: FaultKind;
  match?: { method?: string; path?: string; bodyIncludes?: string };
  /** How many matching requests it hits; default 1; -1 or Infinity = until cleared. */
  times?: number;
  /** server_error: 500 (default), 502 or 503. lose_answer: 502 or 504 (default: no answer at all). */
  status?: 500 | 502 | 503 | 504;
  retryAfterSeconds?: number;
  retryAfterMs?: number;
  latencyMs?: number;
  /** cut_stream, stream_error: how many events go out first; default half of the stream. */
  afterEvents?: number;
  /**
   * For kind 'error': any status and error body, to reproduce what compatible backends and proxies
   * send (e.g. the variants of an expired previous response in the API notes).
   */
  errorStatus?: number;
  error?: { message: string; type?: string; code?: string | null; param?: string | null };
  /**
   * `x-should-retry` on the injected error: true/false as given, null for no header; default the
   * live rule (true on 408, 409, 429 rate limit and 5xx; false otherwise and on quota).
   */
  shouldRetry?: boolean | null;
}

export interface ActiveFault extends FaultRule {
  id: string;
  /** Requests it will still hit; -1 = unlimited. */
  remaining: number;
  hits: number;
}

export interface FaultController {
  add(rule: FaultRule): ActiveFault;
  clear(): void;
  list(): ActiveFault[];
}

export const faultRuleSchema = z
  .object({
    kind: z.enum([
      'rate_limit',
      'quota',
      'server_error',
      'latency',
      'drop_connection',
      'lose_answer',
      'error',
      'slow_stream',
      'cut_stream',
      'stream_error',
    ]),
    match: z
      .object({
        method: z.string().optional(),
        path: z.string().optional(),
        bodyIncludes: z.string().optional(),
      })
      .strict()
      .optional(),
    times: z.number().nullable().optional(),
    status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).optional(),
    retryAfterSeconds: z.number().min(0).optional(),
    retryAfterMs: z.number().min(0).optional(),
    latencyMs: z.number().min(0).optional(),
    afterEvents: z.number().int().min(0).optional(),
    errorStatus: z.number().int().min(400).max(599).optional(),
    error: z
      .object({
        message: z.string(),
        type: z.string().optional(),
        code: z.string().nullable().optional(),
        param: z.string().nullable().optional(),
      })
      .strict()
      .optional(),
    shouldRetry: z.boolean().nullable().optional(),
  })
  .strict()
  .refine((r) => r.kind !== 'error' || (r.errorStatus !== undefined && r.error !== undefined), {
    message: "kind 'error' needs errorStatus and error",
  })
  .refine((r) => r.kind !== 'lose_answer' || r.status === undefined || r.status === 502 || r.status === 504, {
    message: "kind 'lose_answer' takes status 502 or 504 (or none: the connection is dropped)",
  })
  .refine((r) => r.kind !== 'server_error' || r.status !== 504, {
    message: "kind 'server_error' takes status 500, 502 or 503",
  });

/** What the HTTP layer must do for one request, decided from the active rules. */
export type FaultAction =
  | { type: 'delay'; ms: number }
  | { type: 'error'; error: ApiError }
  | { type: 'drop' }
  /** Handle the request as usual, then drop the connection (no status) or answer a proxy error. */
  | { type: 'lose_answer'; status: 502 | 504 | undefined }
  /** A streamed answer: slow it down, cut it or fail it after some events. */
  | { type: 'stream'; eventDelayMs?: number; cut?: number | 'half'; error?: number | 'half' };

const STREAM_KINDS: ReadonlySet<FaultKind> = new Set(['slow_stream', 'cut_stream', 'stream_error']);

export class Faults implements FaultController {
  private rules: ActiveFault[] = [];
  private seq = 0;

  add(rule: FaultRule): ActiveFault {
    // Infinity is the documented "until cleared"; the schema only knows finite numbers.
    const parsed = faultRuleSchema.parse(
      rule.times === Infinity ? { ...rule, times: -1 } : rule,
    ) as FaultRule;
    if (parsed.match?.path !== undefined) new RegExp(parsed.match.path); // fail fast on a bad regex
    // JSON cannot carry Infinity (it serializes as null), so null also means "until cleared".
    const times = (rule as { times?: unknown }).times === null ? -1 : (parsed.times ?? 1);
    const active: ActiveFault = {
      ...parsed,
      id: `fault_${++this.seq}`,
      remaining: times === -1 || times === Infinity ? -1 : Math.max(0, Math.floor(times)),
      hits: 0,
    };
    this.rules.push(active);
    return { ...active };
  }

  clear(): void {
    this.rules = [];
  }

  list(): ActiveFault[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /**
   * Rules apply in the order added: every matching latency rule adds its delay, and the first
   * matching rule of another kind decides the outcome. Spent rules are dropped.
   */
  actionsFor(req: { method: string; path: string; rawBody: string; streaming?: boolean }): FaultAction[] {
    const actions: FaultAction[] = [];
    for (const rule of this.rules) {
      if (rule.remaining === 0 || !matches(rule, req)) continue;
      // Stream faults wait for a streamed request; they are not spent on others.
      if (STREAM_KINDS.has(rule.kind) && !req.streaming) continue;
      if (rule.remaining > 0) rule.remaining--;
      rule.hits++;
      if (rule.kind === 'latency') {
        actions.push({ type: 'delay', ms: rule.latencyMs ?? 1000 });
        continue;
      }
      if (rule.kind === 'slow_stream') {
        actions.push({ type: 'stream', eventDelayMs: rule.latencyMs ?? 50 });
        continue;
      }
      if (rule.kind === 'cut_stream' || rule.kind === 'stream_error') {
        const at = rule.afterEvents ?? 'half';
        actions.push(
          rule.kind === 'cut_stream' ? { type: 'stream', cut: at } : { type: 'stream', error: at },
        );
        break;
      }
      actions.push(
        rule.kind === 'drop_connection'
          ? { type: 'drop' }
          : rule.kind === 'lose_answer'
            ? { type: 'lose_answer', status: rule.status as 502 | 504 | undefined }
            : { type: 'error', error: faultError(rule) },
      );
      break;
    }
    this.rules = this.rules.filter((r) => r.remaining !== 0);
    return actions;
  }
}

function matches(rule: FaultRule, req: { method: string; path: string; rawBody: string }): boolean {
  const m = rule.match;
  if (!m) return true;
  if (m.method !== undefined && m.method.toUpperCase() !== req.method.toUpperCase()) return false;
  if (m.path !== undefined && !new RegExp(m.path).test(req.path)) return false;
  if (m.bodyIncludes !== undefined && !req.rawBody.includes(m.bodyIncludes)) return false;
  return true;
}

export function faultError(rule: FaultRule): ApiError {
  const error = baseFaultError(rule);
  error.shouldRetry = rule.shouldRetry;
  return error;
}

function baseFaultError(rule: FaultRule): ApiError {
  switch (rule.kind) {
    case 'rate_limit': {
      const seconds = rule.retryAfterSeconds ?? 1;
      const headers: Record<string, string> = {
        'retry-after': String(Math.ceil(seconds)),
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': `${seconds}s`,
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-reset-tokens': `${seconds}s`,
      };
      if (rule.retryAfterMs !== undefined) headers['retry-after-ms'] = String(rule.retryAfterMs);
      return new ApiError(
        429,
        `Rate limit reached for requests in organization org-emulator on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in ${seconds}s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        'requests',
        null,
        'rate_limit_exceeded',
        headers,
      );
    }
    case 'error':
      return new ApiError(
        rule.errorStatus ?? 400,
        rule.error?.message ?? 'Injected error.',
        rule.error?.type ?? 'invalid_request_error',
        rule.error?.param ?? null,
        rule.error?.code ?? null,
      );
    case 'quota':
      return new ApiError(
        429,
        'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
        'insufficient_quota',
        null,
        'insufficient_quota',
      );
    default: {
      const status = rule.status ?? 500;
      const message =
        status === 503
          ? 'The server is overloaded or not ready yet.'
          : status === 502
            ? 'Bad gateway.'
            : 'The server had an error while processing your request. Sorry about that!';
      return new ApiError(status, message, 'server_error', null, null);
    }
  }
}

/** What a proxy in front of the API answers when the upstream answer is lost: HTML, no OpenAI headers. */
export function proxyErrorPage(status: 502 | 504): string {
  const title = status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out';
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n`;
}
