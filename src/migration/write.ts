import { withTransaction, type Pool } from '../store/pool.js';
import { appendItems } from '../store/transcript.js';
import type { MigratedItem } from './convert.js';
import type { UnitResult } from './types.js';

/** Writes one unit's items to the transcript, and what the migration learned about it. */

export interface UnitWrite {
  migrationId: string;
  unitId: string;
  conversation: {
    id: string;
    tenant: string;
    channel: string;
    externalId: string;
    agent: string;
    strategy: string;
  };
  source: { kind: 'assistants' | 'response_chain' | 'messages_table'; id: string };
  items: MigratedItem[];
  note: string | null;
  /** For a response chain: the conversation continues server-side from here (if it has no pointer yet). */
  lastResponseId?: string | null;
  dryRun: boolean;
}

/**
 * One transaction: the conversation row, the items not already there (by item key, so a rerun adds
 * nothing), their metadata, the source mapping, and the unit's outcome. A dry run only counts.
 */
export async function writeUnit(pool: Pool, w: UnitWrite): Promise<UnitResult> {
  return withTransaction(pool, async (tx) => {
    const keys = w.items.map((i) => i.itemKey);
    const { rows: existing } = await tx.query<{ item_key: string }>(
      'SELECT item_key FROM session_items WHERE session_id = $1 AND item_key = ANY($2::text[])',
      [w.conversation.id, keys],
    );
    const have = new Set(existing.map((r) => r.item_key));
    const fresh = w.items.filter((i) => !have.has(i.itemKey));
    if (!w.dryRun) {
      await tx.query(
        `INSERT INTO conversations (id, tenant, channel, external_id, agent, strategy)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
        [
          w.conversation.id,
          w.conversation.tenant,
          w.conversation.channel,
          w.conversation.externalId,
          w.conversation.agent,
          w.conversation.strategy,
        ],
      );
      if (w.lastResponseId) {
        await tx.query(
          `UPDATE conversations SET last_response_id = $2, updated_at = now()
            WHERE id = $1 AND last_response_id IS NULL AND turns = 0`,
          [w.conversation.id, w.lastResponseId],
        );
      }
      // Migrated history joins the conversation's current segment, so the agent sees it.
      const { rows } = await tx.query<{ segment: number }>(
        'SELECT segment FROM conversations WHERE id = $1',
        [w.conversation.id],
      );
      const segment = rows[0]?.segment ?? 0;
      await appendItems(
        tx,
        w.conversation.id,
        fresh.map((i) => ({ itemKey: i.itemKey, item: i.item, turn: null, segment })),
      );
      if (fresh.length > 0) {
        await tx.query(
          `INSERT INTO migrated_item_metadata (session_id, item_key, metadata)
           SELECT $1, unnest($2::text[]), unnest($3::jsonb[]) ON CONFLICT DO NOTHING`,
          [w.conversation.id, fresh.map((i) => i.itemKey), fresh.map((i) => JSON.stringify(i.metadata))],
        );
      }
      await tx.query(
        `INSERT INTO conversation_sources (source_kind, source_id, conversation_id, migration_id, note)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source_kind, source_id) DO NOTHING`,
        [w.source.kind, w.source.id, w.conversation.id, w.migrationId, w.note],
      );
    }
    const status = fresh.length > 0 ? 'done' : 'skipped';
    const reason =
      status === 'skipped' ? (w.items.length === 0 ? 'nothing to migrate' : 'already migrated') : null;
    await tx.query(
      `UPDATE migration_units SET status = $3, items = $4, conversation_id = $5, reason = $6, note = $7, updated_at = now()
        WHERE migration_id = $1 AND unit_id = $2`,
      [w.migrationId, w.unitId, status, fresh.length, w.conversation.id, reason, w.note],
    );
    return { unitId: w.unitId, status, items: fresh.length, conversationId: w.conversation.id, reason };
  });
}

/**
 * The outcome this migration already recorded for a unit, if it finished (done or skipped): a unit
 * run again because its result was lost (a worker died, a workflow task was refused) reports that
 * outcome instead of reading its source again and calling itself "already migrated".
 */
export async function recordedOutcome(
  pool: Pool,
  migrationId: string,
  unitId: string,
): Promise<UnitResult | null> {
  const { rows } = await pool.query<{
    status: 'done' | 'skipped';
    items: number;
    conversation_id: string | null;
    reason: string | null;
  }>(
    `SELECT status, items, conversation_id, reason FROM migration_units
      WHERE migration_id = $1 AND unit_id = $2 AND status IN ('done', 'skipped')`,
    [migrationId, unitId],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    unitId,
    status: row.status,
    items: row.items,
    conversationId: row.conversation_id,
    reason: row.reason,
  };
}

export async function recordUnitFailure(
  pool: Pool,
  migrationId: string,
  unitId: string,
  reason: string,
): Promise<void> {
  await pool.query(
    `UPDATE migration_units SET status = 'failed', items = 0, reason = $3, updated_at = now()
      WHERE migration_id = $1 AND unit_id = $2`,
    [migrationId, unitId, reason],
  );
}
