import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { APIError, type OpenAI } from 'openai';
import { deleteRuns } from '../api/runs.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { closeSignal } from '../workflows/messages.js';
import { sanitizedReason, shapeOf } from './errorRecords.js';
import { toActivityFailure } from './openaiErrors.js';

/**
 * A purge (DELETE ...?purge=true) deletes what a conversation said everywhere Threadline put it:
 * the transcript in Postgres, the runs in Temporal, and the copies at OpenAI (stored responses live
 * 30 days, conversation objects until deleted). Each step is idempotent; the purge workflow
 * (src/workflows/purge.ts) retries them until OpenAI answers.
 */

export function purgeWorkflowId(conversationId: string): string {
  return `purge:${conversationId}`;
}

export interface PurgeDeps {
  pool: Pool;
  openai: OpenAI;
}

export interface PurgeInput {
  conversationId: string;
  tenant: string;
}

/** Closes the conversation's open run, if any, and waits for it to end (queued messages are answered first). */
export async function closeForPurge(input: PurgeInput): Promise<{ wasOpen: boolean }> {
  const context = Context.current();
  const handle = context.client.workflow.getHandle(input.conversationId);
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return { wasOpen: false };
    await handle.signal(closeSignal);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { wasOpen: false };
    throw err;
  }
  const heartbeat = setInterval(() => context.heartbeat(), 2_000);
  try {
    // Ends however the run ends (completed, failed, continued); a timeout retries the activity.
    await handle.result().catch(() => {});
    return { wasOpen: true };
  } finally {
    clearInterval(heartbeat);
  }
}

/**
 * Lists the OpenAI objects to delete (all of them again on a later purge: what is already gone
 * answers 404, which counts as deleted), then deletes the transcript, tool arguments and outputs and
 * error records in one transaction. `purgeId` (the purge workflow's run) makes a retry after a
 * commit count nothing twice. Keeps what billing and dedupe need (model_calls, inbound message
 * ids, the delivery ledger) and drops the server-side pointers so a later message starts afresh.
 */
export async function purgeStored(
  deps: PurgeDeps,
  input: PurgeInput & { purgeId: string },
): Promise<{ items: number; targets: number }> {
  return withTransaction(deps.pool, async (tx) => {
    await tx.query(
      `INSERT INTO purge_records (conversation_id, tenant, status, purge_id)
       VALUES ($1, $2, 'running', $3)
       ON CONFLICT (conversation_id) DO UPDATE SET status = 'running', purge_id = EXCLUDED.purge_id,
         items_deleted = 0, runs_deleted = 0, requested_at = now(), completed_at = NULL
       WHERE purge_records.purge_id IS DISTINCT FROM EXCLUDED.purge_id`,
      [input.conversationId, input.tenant, input.purgeId],
    );
    const targets = await tx.query(
      `INSERT INTO purge_targets (conversation_id, kind, openai_id)
         SELECT DISTINCT $1::text, 'response', response_id FROM model_calls
          WHERE conversation_id = $1 AND response_id IS NOT NULL
         UNION
         SELECT DISTINCT $1::text, 'conversation', openai_conversation_id FROM model_calls
          WHERE conversation_id = $1 AND openai_conversation_id IS NOT NULL
         UNION
         SELECT $1::text, 'conversation', openai_conversation_id FROM conversations
          WHERE id = $1 AND openai_conversation_id IS NOT NULL
       ON CONFLICT (conversation_id, kind, openai_id)
         DO UPDATE SET status = 'pending', detail = NULL, updated_at = now()`,
      [input.conversationId],
    );
    const deleted = await tx.query('DELETE FROM session_items WHERE session_id = $1', [input.conversationId]);
    await tx.query(
      `UPDATE tool_calls SET arguments = '', output = NULL, error = NULL, updated_at = now() WHERE conversation_id = $1`,
      [input.conversationId],
    );
    await tx.query('DELETE FROM error_records WHERE conversation_id = $1', [input.conversationId]);
    // Channel actions carry captions, links and places the tools sent: content, like the transcript.
    await tx.query('DELETE FROM channel_actions WHERE conversation_id = $1', [input.conversationId]);
    // The customer's media bytes and reactions are content too (migration 0012).
    await tx.query('DELETE FROM media_objects WHERE conversation_id = $1', [input.conversationId]);
    await tx.query('DELETE FROM inbound_reactions WHERE conversation_id = $1', [input.conversationId]);
    await tx.query('DELETE FROM stream_events WHERE conversation_id = $1', [input.conversationId]);
    await tx.query(
      `UPDATE conversations SET status = 'closed', last_response_id = NULL, openai_conversation_id = NULL,
         last_error = NULL, segment = segment + 1, updated_at = now() WHERE id = $1`,
      [input.conversationId],
    );
    const items = deleted.rowCount ?? 0;
    await tx.query('UPDATE purge_records SET items_deleted = items_deleted + $2 WHERE conversation_id = $1', [
      input.conversationId,
      items,
    ]);
    return { items, targets: targets.rowCount ?? 0 };
  });
}

const BATCH = 50;

/**
 * Deletes a batch of pending OpenAI objects. 404 counts as deleted (expired, or deleted by an
 * earlier attempt); 5xx, 429 and connection errors fail the activity so Temporal retries it; any
 * other 4xx (a revoked key, say) marks that object failed with a sanitized reason, and the purge
 * ends `partial`: purging again retries it. Returns how many are still pending.
 */
export async function deleteOpenAIObjects(deps: PurgeDeps, input: PurgeInput): Promise<{ pending: number }> {
  const { rows } = await deps.pool.query<{ kind: string; openai_id: string }>(
    `SELECT kind, openai_id FROM purge_targets WHERE conversation_id = $1 AND status = 'pending'
      ORDER BY kind, openai_id LIMIT ${BATCH}`,
    [input.conversationId],
  );
  for (const t of rows) {
    let status = 'deleted';
    let detail: string | null = null;
    try {
      if (t.kind === 'response') await deps.openai.responses.delete(t.openai_id);
      else await deps.openai.conversations.delete(t.openai_id);
    } catch (err) {
      if (err instanceof APIError && err.status === 404) detail = 'already gone';
      else {
        const shape = shapeOf(toActivityFailure(err));
        const reason = sanitizedReason('purge', shape);
        // Retried by Temporal; the upstream text stays out of history and the worker log.
        if (!shape.nonRetryable)
          throw ApplicationFailure.create({
            message: `deleting ${t.kind} ${t.openai_id}: ${reason}`,
            type: shape.type,
            details: shape.details,
            ...(shape.nextRetryDelay !== undefined ? { nextRetryDelay: shape.nextRetryDelay } : {}),
          });
        status = 'failed';
        detail = reason;
      }
    }
    await deps.pool.query(
      `UPDATE purge_targets SET status = $4, detail = $5, updated_at = now()
        WHERE conversation_id = $1 AND kind = $2 AND openai_id = $3`,
      [input.conversationId, t.kind, t.openai_id, status, detail],
    );
    Context.current().heartbeat();
  }
  const left = await deps.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM purge_targets WHERE conversation_id = $1 AND status = 'pending'`,
    [input.conversationId],
  );
  return { pending: Number(left.rows[0]!.n) };
}

/** Deletes the conversation's runs from Temporal (each holds the messages it was signalled). */
export async function deleteConversationRuns(deps: PurgeDeps, input: PurgeInput): Promise<{ runs: number }> {
  const runs = await deleteRuns(Context.current().client, input.conversationId);
  await deps.pool.query(
    'UPDATE purge_records SET runs_deleted = runs_deleted + $2 WHERE conversation_id = $1',
    [input.conversationId, runs],
  );
  return { runs };
}

export async function finishPurge(deps: PurgeDeps, input: PurgeInput): Promise<{ status: string }> {
  const { rows } = await deps.pool.query<{ status: string }>(
    `UPDATE purge_records SET completed_at = now(),
       status = CASE WHEN EXISTS (SELECT 1 FROM purge_targets WHERE conversation_id = $1 AND status <> 'deleted')
                THEN 'partial' ELSE 'completed' END
      WHERE conversation_id = $1 RETURNING status`,
    [input.conversationId],
  );
  return { status: rows[0]?.status ?? 'completed' };
}

export interface PurgeRecord {
  object: 'conversation.purge';
  workflowId: string;
  status: string;
  itemsDeleted: number;
  runsDeleted: number;
  requestedAt: string;
  completedAt: string | null;
  openai: { kind: string; id: string; status: string; detail: string | null }[];
}

/** The purge record of a conversation, or null if it was never purged. */
export async function readPurgeRecord(pool: Pool, conversationId: string): Promise<PurgeRecord | null> {
  const { rows } = await pool.query<{
    status: string;
    items_deleted: number;
    runs_deleted: number;
    requested_at: Date;
    completed_at: Date | null;
  }>('SELECT * FROM purge_records WHERE conversation_id = $1', [conversationId]);
  const r = rows[0];
  if (!r) return null;
  const targets = await pool.query<{
    kind: string;
    openai_id: string;
    status: string;
    detail: string | null;
  }>(
    'SELECT kind, openai_id, status, detail FROM purge_targets WHERE conversation_id = $1 ORDER BY kind, openai_id',
    [conversationId],
  );
  return {
    object: 'conversation.purge',
    workflowId: conversationId,
    status: r.status,
    itemsDeleted: r.items_deleted,
    runsDeleted: r.runs_deleted,
    requestedAt: r.requested_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
    openai: targets.rows.map((t) => ({ kind: t.kind, id: t.openai_id, status: t.status, detail: t.detail })),
  };
}
