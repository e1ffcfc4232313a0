import { randomUUID } from 'node:crypto';
import {
  UserError,
  type AgentInputItem,
  type SessionHistoryRewriteArgs,
  type SessionHistoryRewriteAwareSession,
  type SessionHistoryTransaction,
  type SessionHistoryTransactionArgs,
  type SessionHistoryTransactionAwareSession,
} from '@openai/agents';
import { withTransaction, type Pool, type PoolClient } from '../pool.js';
import {
  appendItems,
  clearItems,
  loadLatestItems,
  lockSession,
  removeItems,
  removeLastItems,
  replaceItem,
  type NewItem,
  type StoredRow,
} from '../transcript.js';
import { snapshotTransactionArgs } from './historyTransaction.js';
import { deepEqual, fromOwnedItem, functionNamesByCallId, toStoredItem, type SdkPatch } from './items.js';
import {
  createOrGetSession,
  getSession,
  listSessions,
  touchSession,
  updateSession,
  type ListSessionsOptions,
  type SessionInfo,
  type SessionScope,
  type SessionUpdate,
} from './sessions.js';

export {
  SessionAccessError,
  type SessionInfo,
  type SessionUpdate,
  type ListSessionsOptions,
} from './sessions.js';

export interface OpenSessionOptions extends SessionScope {
  /** An existing session to open, or the id of a new one; a fresh `sess_…` id when omitted. */
  sessionId?: string;
  /** Used only when the session is created; change them later with `update`. */
  name?: string;
  description?: string;
  agentName?: string;
  agentInstructions?: string;
  metadata?: Record<string, unknown>;
}

/**
 * A `Session` of `@openai/agents` kept in PostgreSQL, scoped to one tenant and user. Items are
 * stored in the runtime's transcript (`session_items`) in the Responses wire shape; see
 * `items.ts` for the conversion and docs/store.md for the schema.
 *
 * Every write is one database transaction under the session's lock, so concurrent writers from
 * any number of processes keep the sequence gapless and ordered. It also implements the SDK's
 * optional history capabilities: `applyHistoryTransaction` (atomic, idempotent per operation id)
 * and `applyHistoryMutations`.
 */
export class PostgresSession
  implements SessionHistoryTransactionAwareSession, SessionHistoryRewriteAwareSession
{
  private constructor(
    private readonly pool: Pool,
    private readonly sessionId: string,
  ) {}

  /**
   * Opens a session, creating it when `sessionId` is new or omitted. Fails with
   * `SessionAccessError` when the id belongs to another tenant or user (or to another tenant's
   * conversation).
   */
  static async open(pool: Pool, options: OpenSessionOptions): Promise<PostgresSession> {
    const id = options.sessionId ?? `sess_${randomUUID().replaceAll('-', '')}`;
    await createOrGetSession(pool, id, options);
    return new PostgresSession(pool, id);
  }

  /** A user's sessions, most recently updated first. */
  static list(pool: Pool, options: ListSessionsOptions): Promise<SessionInfo[]> {
    return listSessions(pool, options);
  }

  async getSessionId(): Promise<string> {
    return this.sessionId;
  }

  async info(): Promise<SessionInfo> {
    return getSession(this.pool, this.sessionId);
  }

  /** Changes name, description, agent name and instructions, active flag or metadata. */
  async update(changes: SessionUpdate): Promise<SessionInfo> {
    return updateSession(this.pool, this.sessionId, changes);
  }

  async getItems(limit?: number): Promise<AgentInputItem[]> {
    if (limit !== undefined && limit <= 0) return [];
    // A fractional limit behaves as MemorySession's slice does: rounded up. One prepared
    // statement on any pooled connection: no checkout, no parse or plan after the first call.
    const rows = await latestItems(
      this.pool,
      this.sessionId,
      limit === undefined ? undefined : Math.ceil(limit),
    );
    return this.toAgentItems(this.pool, rows);
  }

  async addItems(items: AgentInputItem[]): Promise<void> {
    if (items.length === 0) return;
    const rows = items.map(toNewItem);
    // Three round trips instead of seven: the transaction opens with the session's lock in one
    // simple query, then one prepared statement numbers, inserts and touches the session.
    const client = await this.pool.connect();
    try {
      await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(hashtextextended(${client.escapeLiteral(this.sessionId)}, 0))`,
      );
      await client.query({
        name: 'session_add_items',
        text: ADD_ITEMS_SQL,
        values: addItemsValues(this.sessionId, rows),
      });
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async popItem(): Promise<AgentInputItem | undefined> {
    return withTransaction(this.pool, async (client) => {
      const [row] = await removeLastItems(client, this.sessionId, 1);
      if (!row) return undefined;
      await touchSession(client, this.sessionId);
      return (await this.toAgentItems(client, [row]))[0];
    });
  }

  async clearSession(): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      await clearItems(client, this.sessionId);
      // As MemorySession does: a cleared session forgets the operations applied to it.
      await client.query('DELETE FROM session_operations WHERE session_id = $1', [this.sessionId]);
      await touchSession(client, this.sessionId);
    });
  }

  /**
   * Applies an append or a suffix replacement atomically, recording the operation id in the same
   * database transaction: a retry with the same id and transaction changes nothing, the same id
   * with another transaction or a suffix that no longer matches fails and changes nothing.
   */
  async applyHistoryTransaction(args: SessionHistoryTransactionArgs): Promise<void> {
    // Validated and detached before anything is read or written: a rejected call records nothing.
    const { operationId, transaction } = snapshotTransactionArgs(args);
    const snapshot = JSON.parse(JSON.stringify(transaction)) as SessionHistoryTransaction;
    const appended = (transaction.type === 'append_items' ? transaction.items : transaction.replacement).map(
      toNewItem,
    );
    await withTransaction(this.pool, async (client) => {
      await lockSession(client, this.sessionId);
      const { rows } = await client.query<{ transaction: unknown }>(
        'SELECT transaction FROM session_operations WHERE session_id = $1 AND operation_id = $2',
        [this.sessionId, operationId],
      );
      if (rows[0]) {
        if (!deepEqual(rows[0].transaction, snapshot)) {
          throw new UserError('Session history operation was already applied with a different transaction.');
        }
        return;
      }
      if (transaction.type === 'replace_suffix') {
        const expected = snapshot.type === 'replace_suffix' ? snapshot.expectedSuffix : [];
        const actual =
          expected.length === 0 ? [] : await loadLatestItems(client, this.sessionId, expected.length);
        const actualItems = await this.toAgentItems(client, actual);
        if (actual.length !== expected.length || !deepEqual(actualItems, expected)) {
          throw new UserError('Session history suffix no longer matches the transaction precondition.');
        }
        await removeLastItems(client, this.sessionId, expected.length);
      }
      await appendItems(client, this.sessionId, appended);
      await client.query(
        'INSERT INTO session_operations (session_id, operation_id, transaction) VALUES ($1, $2, $3)',
        [this.sessionId, operationId, JSON.stringify(snapshot)],
      );
      await touchSession(client, this.sessionId);
    });
  }

  /** Replaces a function call (first occurrence of its call id; later duplicates are removed). */
  async applyHistoryMutations(args: SessionHistoryRewriteArgs): Promise<void> {
    if (args.mutations.length === 0) return;
    await withTransaction(this.pool, async (client) => {
      await lockSession(client, this.sessionId);
      for (const mutation of args.mutations) {
        if (mutation.type !== 'replace_function_call') continue;
        const { rows } = await client.query<{ seq: string }>(
          `SELECT seq FROM session_items
            WHERE session_id = $1 AND type = 'function_call' AND item->>'call_id' = $2 ORDER BY seq`,
          [this.sessionId, mutation.callId],
        );
        const [first, ...duplicates] = rows.map((r) => Number(r.seq));
        if (first === undefined) continue;
        const { wire, patch } = toStoredItem(mutation.replacement);
        await replaceItem(client, this.sessionId, first, wire, patchRecord(patch));
        await removeItems(client, this.sessionId, duplicates);
      }
      await touchSession(client, this.sessionId);
    });
  }

  private async toAgentItems(client: Pool | PoolClient, rows: StoredRow[]): Promise<AgentInputItem[]> {
    const names = functionNamesByCallId(rows.map((r) => r.item));
    // Function outputs the runtime wrote carry no tool name and their call may be outside the
    // window read: look those calls up (rare, and only for such outputs).
    const missing = rows
      .filter((r) => r.item.type === 'function_call_output' && !r.sdk && !names.has(String(r.item.call_id)))
      .map((r) => String(r.item.call_id));
    if (missing.length > 0) {
      const { rows: calls } = await client.query<{ call_id: string; name: string }>(
        `SELECT item->>'call_id' AS call_id, item->>'name' AS name FROM session_items
          WHERE session_id = $1 AND type = 'function_call' AND item->>'call_id' = ANY($2::text[])`,
        [this.sessionId, missing],
      );
      for (const c of calls) names.set(c.call_id, c.name);
    }
    // The rows were just read: their items are nobody else's.
    return rows.map((r) => fromOwnedItem(r.item, r.sdk as SdkPatch | null, names));
  }
}

// Newest first, as the index is read backward; latestItems reverses them (cheaper than a sort).
const LATEST_ITEMS_SQL = `SELECT seq, item, sdk FROM session_items WHERE session_id = $1 ORDER BY seq DESC LIMIT $2`;

async function latestItems(pool: Pool, sessionId: string, limit: number | undefined): Promise<StoredRow[]> {
  if (limit === undefined) {
    const client = await pool.connect();
    try {
      return await loadLatestItems(client, sessionId);
    } finally {
      client.release();
    }
  }
  const { rows } = await pool.query<{
    seq: string;
    item: Record<string, unknown>;
    sdk: Record<string, unknown> | null;
  }>({
    name: 'session_latest_items',
    text: LATEST_ITEMS_SQL,
    values: [sessionId, limit],
  });
  return rows.reverse().map((r) => ({ seq: Number(r.seq), item: r.item, sdk: r.sdk }));
}

// Under the session's lock (taken by the caller): the next sequences after the last (a backward
// scan of the primary key), the rows in one insert, and the session touched, in one statement.
// SDK items carry fresh keys (toNewItem), so there is nothing to deduplicate.
const ADD_ITEMS_SQL = `WITH last AS (
    SELECT coalesce((SELECT seq FROM session_items WHERE session_id = $1 ORDER BY seq DESC LIMIT 1), 0) AS seq
  ), inserted AS (
    INSERT INTO session_items (session_id, seq, item, type, role, turn, segment, item_key, sdk)
    SELECT $1, last.seq + ord, item, type, role, NULL, 0, item_key, sdk
      FROM last, unnest($2::jsonb[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
           WITH ORDINALITY AS t(item, type, role, item_key, sdk, ord)
    RETURNING 1
  )
  UPDATE sessions SET updated_at = now() WHERE id = $1`;

function addItemsValues(sessionId: string, rows: NewItem[]): unknown[] {
  return [
    sessionId,
    rows.map((i) => JSON.stringify(i.item)),
    rows.map((i) => String(i.item.type ?? 'message')),
    rows.map((i) => (typeof i.item.role === 'string' ? i.item.role : null)),
    rows.map((i) => i.itemKey),
    rows.map((i) => (i.sdk ? JSON.stringify(i.sdk) : null)),
  ];
}

function toNewItem(item: AgentInputItem): NewItem {
  const { wire, patch } = toStoredItem(item);
  // SDK writes have no natural idempotency key (retries go through applyHistoryTransaction).
  return { itemKey: `sdk/${randomUUID()}`, item: wire, turn: null, sdk: patchRecord(patch) };
}

function patchRecord(patch: SdkPatch | null): Record<string, unknown> | null {
  return patch ? { ...patch } : null;
}
