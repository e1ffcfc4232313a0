import type { PoolClient } from './pool.js';

/**
 * Appends items to a session with a gapless sequence. `itemKey` makes the write idempotent: a retried
 * activity that already wrote an item finds it and writes nothing. A per-session transaction lock
 * serialises concurrent writers so sequences never collide or skip.
 */
export interface NewItem {
  itemKey: string;
  item: Record<string, unknown>;
  turn: number | null;
  segment?: number;
}

export async function appendItems(client: PoolClient, sessionId: string, items: NewItem[]): Promise<void> {
  if (items.length === 0) return;
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [sessionId]);
  const keys = items.map((i) => i.itemKey);
  const { rows } = await client.query<{ item_key: string }>(
    'SELECT item_key FROM session_items WHERE session_id = $1 AND item_key = ANY($2::text[])',
    [sessionId, keys],
  );
  const existing = new Set(rows.map((r) => r.item_key));
  const fresh = items.filter((i) => !existing.has(i.itemKey));
  if (fresh.length === 0) return;
  const { rows: maxRows } = await client.query<{ max: string | null }>(
    'SELECT max(seq) AS max FROM session_items WHERE session_id = $1',
    [sessionId],
  );
  let seq = Number(maxRows[0]?.max ?? 0);
  for (const i of fresh) {
    seq += 1;
    await client.query(
      `INSERT INTO session_items (session_id, seq, item, type, role, turn, segment, item_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        sessionId,
        seq,
        JSON.stringify(i.item),
        String(i.item.type ?? 'message'),
        typeof i.item.role === 'string' ? i.item.role : null,
        i.turn,
        i.segment ?? 0,
        i.itemKey,
      ],
    );
  }
}

export async function loadTurnItems(
  client: PoolClient,
  sessionId: string,
  turn: number,
  type: string,
): Promise<Record<string, unknown>[]> {
  const { rows } = await client.query<{ item: Record<string, unknown> }>(
    'SELECT item FROM session_items WHERE session_id = $1 AND turn = $2 AND type = $3 ORDER BY seq',
    [sessionId, turn, type],
  );
  return rows.map((r) => r.item);
}
