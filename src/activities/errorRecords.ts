import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from '../store/pool.js';

/**
 * Upstream error text stays with operators. OpenAI's messages can carry quota details, organization
 * ids or key fragments; an activity failure's message travels to Temporal history, the worker log,
 * the workflow's `lastError` (state query, Postgres, the API). So a failed model or tool activity
 * keeps its raw text in `error_records` (admin key: GET /v1/admin/errors/{id}) and fails with a
 * sanitized reason and that record's id instead. Type, retryability and the retry delay are kept.
 */

export interface FailureShape {
  type: string;
  nonRetryable: boolean;
  nextRetryDelay?: ApplicationFailure['nextRetryDelay'];
  /** { status, code, requestId } for OpenAI failures (see toActivityFailure). */
  details: unknown[];
}

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * What a tenant may read about a failure: built from the failure's type, status and code, never its
 * text. Same prefix as toActivityFailure's message ("OpenAI 429 insufficient_quota: ..."), with a
 * fixed summary in place of the upstream message.
 */
export function sanitizedReason(activity: string, failure: Pick<FailureShape, 'type' | 'details'>): string {
  const facts = (failure.details[0] ?? {}) as { status?: unknown; code?: unknown };
  const status = typeof facts.status === 'number' ? facts.status : null;
  const code = typeof facts.code === 'string' && SAFE_CODE.test(facts.code) ? facts.code : null;
  const { type } = failure;
  if (type.startsWith('OpenAI')) {
    const prefix = `OpenAI ${status ?? 'connection error'}${code ? ` ${code}` : ''}`;
    const summary =
      type === 'OpenAIRateLimited'
        ? 'OpenAI rate limit'
        : type === 'OpenAIQuotaExceeded'
          ? 'OpenAI quota exceeded'
          : status === null
            ? 'OpenAI unreachable'
            : status >= 500
              ? 'OpenAI server error'
              : status >= 400
                ? 'OpenAI rejected the request'
                : `OpenAI error (${SAFE_CODE.test(type) ? type : 'unknown'})`;
    return `${prefix}: ${summary}`;
  }
  const what = activity === 'runTool' ? 'The tool' : 'The model step';
  return `${what} failed (${SAFE_CODE.test(type) ? type : 'Error'})`;
}

export function shapeOf(err: unknown): FailureShape {
  if (err instanceof ApplicationFailure)
    return {
      type: err.type ?? 'Error',
      nonRetryable: err.nonRetryable === true,
      ...(err.nextRetryDelay !== undefined && err.nextRetryDelay !== null
        ? { nextRetryDelay: err.nextRetryDelay }
        : {}),
      details: err.details ? [...err.details] : [],
    };
  return { type: err instanceof Error ? err.name : 'Error', nonRetryable: false, details: [] };
}

/** Stable over the attempts of one activity execution: retries update one record. */
export function errorIdOf(info: { workflowId: string; runId: string; activityId: string }): string {
  const hash = createHash('sha256').update(`${info.workflowId}/${info.runId}/${info.activityId}`);
  return `err_${hash.digest('hex').slice(0, 24)}`;
}

export interface ErrorRecordInput {
  id: string;
  tenant: string | null;
  conversationId: string | null;
  activity: string;
  type: string;
  reason: string;
  message: string;
  details: unknown;
}

export async function recordError(pool: Pool, r: ErrorRecordInput): Promise<void> {
  await pool.query(
    `INSERT INTO error_records (id, tenant, conversation_id, activity, type, reason, message, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, reason = EXCLUDED.reason, message = EXCLUDED.message,
       details = EXCLUDED.details, attempts = error_records.attempts + 1, updated_at = now()`,
    [r.id, r.tenant, r.conversationId, r.activity, r.type, r.reason, r.message, JSON.stringify(r.details)],
  );
}

export interface ErrorRecord {
  object: 'error_record';
  id: string;
  tenant: string | null;
  conversationId: string | null;
  activity: string;
  type: string;
  reason: string;
  message: string;
  details: unknown;
  attempts: number;
  createdAt: string;
  updatedAt: string;
}

export async function findErrorRecord(pool: Pool, id: string): Promise<ErrorRecord | null> {
  const { rows } = await pool.query<{
    id: string;
    tenant: string | null;
    conversation_id: string | null;
    activity: string;
    type: string;
    reason: string;
    message: string;
    details: unknown;
    attempts: number;
    created_at: Date;
    updated_at: Date;
  }>('SELECT * FROM error_records WHERE id = $1', [id]);
  const r = rows[0];
  if (!r) return null;
  return {
    object: 'error_record',
    id: r.id,
    tenant: r.tenant,
    conversationId: r.conversation_id,
    activity: r.activity,
    type: r.type,
    reason: r.reason,
    message: r.message,
    details: r.details,
    attempts: r.attempts,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/**
 * Failures the runtime raises itself, whose messages it wrote and which carry no upstream text:
 * the tenant reads them as they are ("The model returned no answer (incomplete: max_output_tokens).").
 */
const RUNTIME_FAILURES = new Set(['ModelNoAnswer', 'ModelContentFiltered']);

/**
 * Wraps an activity so that its failures are recorded and rethrown sanitized. `scope` names the
 * tenant and conversation of an input (both small facts already in the input).
 */
export function withErrorRecords<I, O>(
  pool: Pool,
  activity: string,
  scope: (input: I) => { tenant: string | null; conversationId: string | null },
  fn: (input: I) => Promise<O>,
): (input: I) => Promise<O> {
  return async (input: I) => {
    try {
      return await fn(input);
    } catch (err) {
      const shape = shapeOf(err);
      const reason =
        RUNTIME_FAILURES.has(shape.type) && err instanceof Error
          ? err.message
          : sanitizedReason(activity, shape);
      const info = Context.current().info;
      const id = errorIdOf({
        workflowId: info.workflowExecution?.workflowId ?? '',
        runId: info.workflowExecution?.runId ?? '',
        activityId: info.activityId,
      });
      const { tenant, conversationId } = scope(input);
      // If Postgres is down too the failure still goes out sanitized; the retry records it.
      await recordError(pool, {
        id,
        tenant,
        conversationId,
        activity,
        type: shape.type,
        reason,
        message: err instanceof Error ? err.message : String(err),
        details: shape.details,
      }).catch(() => {});
      throw ApplicationFailure.create({
        message: `${reason} (error ${id})`,
        type: shape.type,
        nonRetryable: shape.nonRetryable,
        details: shape.details,
        ...(shape.nextRetryDelay !== undefined ? { nextRetryDelay: shape.nextRetryDelay } : {}),
      });
    }
  };
}
