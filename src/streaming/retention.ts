import type { Pool } from '../store/pool.js';

/**
 * How stream_events stays bounded. Rows are a live preview, not a record (the transcript is), so
 * they only need to outlive a client's reconnect:
 * - per conversation: when a step starts streaming, rows of turns before the previous one go (a
 *   client that reconnects during turn N may still be reading the end of turn N-1);
 * - by age: rows older than MAX_AGE_SECONDS go, in batches, whoever streams next (a conversation
 *   that never speaks again still empties);
 * - per step: rows are coalesced text, so a step has at most about as many rows as output tokens,
 *   per attempt, and attempts are bounded by the activity's retry policy.
 */
export const KEEP_TURNS = 2;
export const MAX_AGE_SECONDS = 3_600;
export const AGE_BATCH = 1_000;

export async function pruneStreamEvents(
  pool: Pool,
  conversationId: string,
  turn: number,
  maxAgeSeconds = MAX_AGE_SECONDS,
): Promise<void> {
  await pool.query('DELETE FROM stream_events WHERE conversation_id = $1 AND turn <= $2', [
    conversationId,
    turn - KEEP_TURNS,
  ]);
  // SKIP LOCKED: many workers pruning at once take different rows instead of waiting on each other.
  await pool.query(
    `DELETE FROM stream_events WHERE ctid IN (
       SELECT ctid FROM stream_events WHERE created_at < now() - make_interval(secs => $1)
        LIMIT ${AGE_BATCH} FOR UPDATE SKIP LOCKED)`,
    [maxAgeSeconds],
  );
}
