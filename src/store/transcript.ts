import type { Pool, PoolClient } from './pool.js';

/**
 * The transcript: `session_items`, one row per item in the Responses wire shape, with a gapless
 * sequence per session. This module is the one place that assigns or changes sequences; every
 * writer (runtime activities, PostgresSession) goes through it, inside a transaction, under the
 * per-session lock below, so concurrent writers never collide, skip or reorder.
 */
export interface NewItem {
  itemKey: string;
  item: Record<string, unknown>;
  turn: number | null;
  segment?: number;
  /** What an Agents SDK item carries beyond its wire shape (see session/items.ts); null otherwise. */
  sdk?: Record<string, unknown> | null;
}

export interface StoredRow {
  seq: number;
  item: Record<string, unknown>;
  sdk: Record<string, unknown> | null;
}

/**
 * Serialises writers of one session until the surrounding transaction ends. A transaction-scoped
 * advisory lock rather than a row lock: the session may have no row anywhere yet (first item of a
 * conversation) and the lock must also cover "max(seq) + 1".
 */
export async function lockSession(client: PoolClient, sessionId: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [sessionId]);
}

/**
 * Appends items with the next sequences. `itemKey` makes the write idempotent: a retried activity
 * that already wrote an item finds it and writes nothing. Must run inside a transaction.
 */
export async function appendItems(client: PoolClient, sessionId: string, items: NewItem[]): Promise<void> {
  if (items.length === 0) return;
  await lockSession(client, sessionId);
  const keys = items.map((i) => i.itemKey);
  const { rows } = await client.query<{ item_key: string }>(
    'SELECT item_key FROM session_items WHERE session_id = $1 AND item_key = ANY($2::text[])',
    [sessionId, keys],
  );
  const existing = new Set(rows.map((r) => r.item_key));
  // A key repeated within one call is written once, like a retry would be.
  const fresh: NewItem[] = [];
  for (const i of items) {
    if (existing.has(i.itemKey)) continue;
    existing.add(i.itemKey);
    fresh.push(i);
  }
  if (fresh.length === 0) return;
  const next = (await lastSeq(client, sessionId)) + 1;
  // One statement for the whole batch: a round trip per item dominated addItems latency.
  await client.query(
    `INSERT INTO session_items (session_id, seq, item, type, role, turn, segment, item_key, sdk)
     SELECT $1, $2 + ord - 1, item, type, role, turn, segment, item_key, sdk
       FROM unnest($3::jsonb[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[], $9::jsonb[])
            WITH ORDINALITY AS t(item, type, role, turn, segment, item_key, sdk, ord)`,
    [
      sessionId,
      next,
      fresh.map((i) => JSON.stringify(i.item)),
      fresh.map((i) => String(i.item.type ?? 'message')),
      fresh.map((i) => (typeof i.item.role === 'string' ? i.item.role : null)),
      fresh.map((i) => i.turn),
      fresh.map((i) => i.segment ?? 0),
      fresh.map((i) => i.itemKey),
      fresh.map((i) => (i.sdk ? JSON.stringify(i.sdk) : null)),
    ],
  );
}

/** The highest sequence of a session, 0 when it has no items (a backward scan of the primary key). */
export async function lastSeq(client: PoolClient, sessionId: string): Promise<number> {
  const { rows } = await client.query<{ seq: string }>(
    'SELECT seq FROM session_items WHERE session_id = $1 ORDER BY seq DESC LIMIT 1',
    [sessionId],
  );
  return Number(rows[0]?.seq ?? 0);
}

/** The latest `limit` items (all when undefined), oldest first. */
export async function loadLatestItems(
  client: PoolClient,
  sessionId: string,
  limit?: number,
): Promise<StoredRow[]> {
  const { rows } = await client.query<{
    seq: string;
    item: Record<string, unknown>;
    sdk: Record<string, unknown> | null;
  }>(
    limit === undefined
      ? 'SELECT seq, item, sdk FROM session_items WHERE session_id = $1 ORDER BY seq'
      : `SELECT seq, item, sdk FROM (
           SELECT seq, item, sdk FROM session_items WHERE session_id = $1 ORDER BY seq DESC LIMIT $2
         ) latest ORDER BY seq`,
    limit === undefined ? [sessionId] : [sessionId, limit],
  );
  return rows.map((r) => ({ seq: Number(r.seq), item: r.item, sdk: r.sdk }));
}

/**
 * Removes the last `count` items and returns them, oldest first. Removing from the tail keeps the
 * sequence gapless. Must run inside a transaction.
 */
export async function removeLastItems(
  client: PoolClient,
  sessionId: string,
  count: number,
): Promise<StoredRow[]> {
  if (count <= 0) return [];
  await lockSession(client, sessionId);
  const { rows } = await client.query<{
    seq: string;
    item: Record<string, unknown>;
    sdk: Record<string, unknown> | null;
  }>(
    `DELETE FROM session_items
      WHERE session_id = $1
        AND seq IN (SELECT seq FROM session_items WHERE session_id = $1 ORDER BY seq DESC LIMIT $2)
      RETURNING seq, item, sdk`,
    [sessionId, count],
  );
  return rows.map((r) => ({ seq: Number(r.seq), item: r.item, sdk: r.sdk })).sort((a, b) => a.seq - b.seq);
}

/**
 * Removes items from anywhere in a session and closes the gaps by renumbering the items after
 * them, keeping their order. Rare (history rewrites), so clarity beats speed: the two-step update
 * avoids transient primary-key collisions, which a single `seq = seq - n` could hit mid-statement.
 * Must run inside a transaction.
 */
export async function removeItems(client: PoolClient, sessionId: string, seqs: number[]): Promise<void> {
  if (seqs.length === 0) return;
  await lockSession(client, sessionId);
  const first = Math.min(...seqs);
  await client.query('DELETE FROM session_items WHERE session_id = $1 AND seq = ANY($2::bigint[])', [
    sessionId,
    seqs,
  ]);
  await client.query('UPDATE session_items SET seq = -seq WHERE session_id = $1 AND seq > $2', [
    sessionId,
    first,
  ]);
  await client.query(
    `UPDATE session_items s SET seq = renumbered.seq
       FROM (SELECT seq AS old, $2::bigint - 1 + row_number() OVER (ORDER BY seq DESC) AS seq
               FROM session_items WHERE session_id = $1 AND seq < 0) renumbered
      WHERE s.session_id = $1 AND s.seq = renumbered.old`,
    [sessionId, first],
  );
}

/** Replaces one stored item in place (same sequence). Must run inside a transaction. */
export async function replaceItem(
  client: PoolClient,
  sessionId: string,
  seq: number,
  item: Record<string, unknown>,
  sdk: Record<string, unknown> | null,
): Promise<void> {
  await client.query(
    `UPDATE session_items SET item = $3, sdk = $4, type = $5, role = $6
      WHERE session_id = $1 AND seq = $2`,
    [
      sessionId,
      seq,
      JSON.stringify(item),
      sdk ? JSON.stringify(sdk) : null,
      String(item.type ?? 'message'),
      typeof item.role === 'string' ? item.role : null,
    ],
  );
}

/** Deletes every item of a session. */
export async function clearItems(client: PoolClient, sessionId: string): Promise<void> {
  await lockSession(client, sessionId);
  await client.query('DELETE FROM session_items WHERE session_id = $1', [sessionId]);
}

type Queryable = Pick<PoolClient, 'query'>;

/**
 * A turn's items whose key starts with `prefix` (keys are `t{turn}/in/{i}`, `t{turn}/s{step}/o{i}`,
 * `t{turn}/s{step}/tool/{callId}`, ...), in transcript order. The prefix is fixed text, never user
 * input, so LIKE's wildcards cannot appear in it.
 */
export async function loadItemsByKey(
  db: Queryable,
  sessionId: string,
  turn: number,
  prefix: string,
): Promise<Record<string, unknown>[]> {
  const { rows } = await db.query<{ item: Record<string, unknown> }>(
    `SELECT item FROM session_items WHERE session_id = $1 AND turn = $2 AND item_key LIKE $3 || '%' ORDER BY seq`,
    [sessionId, turn, prefix],
  );
  return rows.map((r) => r.item);
}

/** One transcript segment (everything since the last reset), oldest first. */
export async function loadSegment(
  db: Queryable,
  sessionId: string,
  segment: number,
): Promise<Record<string, unknown>[]> {
  const { rows } = await db.query<{ item: Record<string, unknown> }>(
    'SELECT item FROM session_items WHERE session_id = $1 AND segment = $2 ORDER BY seq',
    [sessionId, segment],
  );
  return rows.map((r) => r.item);
}

/** A turn's reply text: its last assistant message (the final answer, or the apology of a failed turn). */
export async function loadTurnReplyText(
  pool: Pool,
  conversationId: string,
  turn: number,
): Promise<string | null> {
  const { rows } = await pool.query<{ item: { content?: { type?: string; text?: string }[] } }>(
    `SELECT item FROM session_items WHERE session_id = $1 AND turn = $2 AND type = 'message' AND role = 'assistant'
     ORDER BY seq DESC LIMIT 1`,
    [conversationId, turn],
  );
  const content = rows[0]?.item.content;
  if (!content) return null;
  return content
    .filter((p) => p.type === 'output_text')
    .map((p) => p.text ?? '')
    .join('');
}
