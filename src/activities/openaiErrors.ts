import { ApplicationFailure } from '@temporalio/activity';
import { APIConnectionError, APIError } from 'openai';

/**
 * What an OpenAI failure means for a durable runtime. The SDK's own retries are off (maxRetries 0):
 * Temporal retries the activity, only when a retry can succeed, after the delay the server asked for.
 */

export interface ErrorFacts {
  status: number | null; // null: no HTTP answer (connection error, timeout)
  code: string | null;
  param: string | null;
  message: string;
  retryAfterMs: number | null;
  requestId: string | null;
}

export interface Classification {
  retryable: boolean;
  /** ApplicationFailure type, stable for alerting and tests. */
  type: string;
  nextRetryDelayMs: number | null;
}

const NEVER_RETRY_429 = new Set(['insufficient_quota', 'credit_balance_exhausted']);

export function classify(facts: ErrorFacts): Classification {
  const { status, code } = facts;
  if (status === null) return { retryable: true, type: 'OpenAIConnectionError', nextRetryDelayMs: null };
  if (status === 429 && code !== null && NEVER_RETRY_429.has(code)) {
    return { retryable: false, type: 'OpenAIQuotaExceeded', nextRetryDelayMs: null };
  }
  const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
  return {
    retryable,
    type: status === 429 ? 'OpenAIRateLimited' : `OpenAI${status}`,
    nextRetryDelayMs: retryable ? facts.retryAfterMs : null,
  };
}

export function factsOf(err: unknown): ErrorFacts | undefined {
  if (err instanceof APIConnectionError) {
    return {
      status: null,
      code: null,
      param: null,
      message: err.message,
      retryAfterMs: null,
      requestId: null,
    };
  }
  if (err instanceof APIError) {
    return {
      status: err.status ?? null,
      code: typeof err.code === 'string' ? err.code : null,
      param: typeof err.param === 'string' ? err.param : null,
      message: err.message,
      retryAfterMs: retryAfterMs(err.headers),
      requestId: err.requestID ?? null,
    };
  }
  return undefined;
}

/** `retry-after-ms` first (OpenAI's precise header), then `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined, nowMs = Date.now()): number | null {
  if (!headers) return null;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (raw === null) return null;
  const secs = Number(raw);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/**
 * True when the API says the response we chained on is gone: expired (30 days), deleted, created
 * with store=false, or unknown. Matches the live error and the variants compatible backends and
 * proxies send (see ../shared/reference/openai-api-notes.md).
 */
export function isPreviousResponseGone(facts: ErrorFacts, previousResponseId: string | null): boolean {
  if (!previousResponseId) return false;
  if (facts.status === 400 && facts.code === 'previous_response_not_found') return true;
  if (facts.status === 400 && /invalid 'previous_response_id'/i.test(facts.message)) return true;
  if (/response with id '[^']*' has expired/i.test(facts.message)) return true;
  if (
    facts.status === 404 &&
    (facts.param === 'previous_response_id' || facts.message.includes(previousResponseId))
  ) {
    return true;
  }
  return false;
}

/** True when the OpenAI conversation object behind the `conversation` strategy no longer exists. */
export function isConversationGone(facts: ErrorFacts, conversationId: string | null): boolean {
  if (!conversationId || facts.status !== 404) return false;
  return (
    facts.param === 'conversation' ||
    facts.message.includes(conversationId) ||
    /conversation/i.test(facts.message)
  );
}

/**
 * True when the state a call builds on holds a function call without its output (live: 400
 * `No tool output found for function call call_x.`): not retryable as is, every later call on the
 * same state fails the same way until it is repaired.
 */
export function isConversationBroken(facts: ErrorFacts): boolean {
  return facts.status === 400 && /no tool output found for function call/i.test(facts.message);
}

export function toActivityFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const facts = factsOf(err);
  if (!facts) {
    return ApplicationFailure.retryable(err instanceof Error ? err.message : String(err), 'UnexpectedError');
  }
  const c = classify(facts);
  return ApplicationFailure.create({
    message: `OpenAI ${facts.status ?? 'connection error'}${facts.code ? ` ${facts.code}` : ''}: ${facts.message}`,
    type: c.type,
    nonRetryable: !c.retryable,
    ...(c.nextRetryDelayMs !== null ? { nextRetryDelay: withJitter(c.nextRetryDelayMs) } : {}),
    details: [{ status: facts.status, code: facts.code, requestId: facts.requestId }],
  });
}

/**
 * Never earlier than the server asked, but spread: many activities refused by the same 429 (a burst
 * of conversations, a migration window) would otherwise all come back at the same instant and be
 * refused together again. Up to 25% more, at most one second.
 */
export function withJitter(delayMs: number, random: () => number = Math.random): number {
  return Math.round(delayMs + random() * Math.min(delayMs * 0.25, 1_000));
}
