import type { Pool } from '../store/pool.js';
import { encodeCursor, type ConversationCursor } from './pagination.js';

/** The Postgres side of the conversation routes: rows, transcript pages, listings. */

export interface ConversationRow {
  id: string;
  tenant: string;
  channel: string;
  external_id: string;
  agent: string;
  strategy: string;
  status: string;
  turns: number;
  segment: number;
  last_response_id: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  human_mode: boolean;
}

const COLUMNS = `id, tenant, channel, external_id, agent, strategy, status, turns, segment, last_response_id,
  last_error, created_at::text AS created_at, updated_at::text AS updated_at, human_mode`;

export async function findConversation(pool: Pool, workflowId: string): Promise<ConversationRow | null> {
  const { rows } = await pool.query<ConversationRow>(`SELECT ${COLUMNS} FROM conversations WHERE id = $1`, [
    workflowId,
  ]);
  return rows[0] ?? null;
}

export interface ConversationSummary {
  object: 'conversation';
  id: string;
  workflowId: string;
  channel: string;
  conversationId: string;
  agent: string;
  status: string;
  turns: number;
  lastError: string | null;
  /** An operator has the conversation (human takeover). */
  humanMode: boolean;
  /** Turns that failed (the customer got the apology). */
  failedTurns: number;
  /** Sum over the model calls with a known price. */
  costUsd: number;
  createdAt: string;
  updatedAt: string;
}

/** A listed row: the conversation and its aggregates. */
export interface ListedRow extends ConversationRow {
  failed_turns: number;
  cost_usd: string;
}

const FAILED_TURNS = `(SELECT count(*)::int FROM session_items s
  WHERE s.session_id = conversations.id AND s.item_key LIKE 't%/apology')`;
const COST_USD = `(SELECT coalesce(sum(m.cost_usd), 0) FROM model_calls m WHERE m.conversation_id = conversations.id)`;

export function toSummary(r: ListedRow): ConversationSummary {
  return {
    object: 'conversation',
    id: r.id,
    workflowId: r.id,
    channel: r.channel,
    conversationId: r.external_id,
    agent: r.agent,
    status: r.status,
    turns: r.turns,
    lastError: publicError(r.last_error),
    humanMode: r.human_mode,
    failedTurns: Number(r.failed_turns),
    costUsd: Number(r.cost_usd),
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

export async function listConversations(
  pool: Pool,
  q: {
    tenant: string;
    channel?: string;
    status?: string;
    humanMode?: boolean;
    pendingApprovals?: boolean;
    failedTurns?: boolean;
    minCostUsd?: number;
    after?: ConversationCursor;
    limit: number;
  },
): Promise<{ rows: ListedRow[]; nextCursor: string | null }> {
  const { rows } = await pool.query<ListedRow & { created_us: string }>(
    `SELECT ${COLUMNS}, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_us,
            ${FAILED_TURNS} AS failed_turns, ${COST_USD} AS cost_usd
       FROM conversations
      WHERE tenant = $1 AND ($2::text IS NULL OR channel = $2) AND ($3::text IS NULL OR status = $3)
        AND ($4::bigint IS NULL
             OR (created_at, id) < (timestamptz 'epoch' + $4::bigint * interval '1 microsecond', $5::text))
        AND ($7::boolean IS NULL OR human_mode = $7)
        AND ($8::boolean IS NULL OR $8 = EXISTS (SELECT 1 FROM tool_approvals a
              WHERE a.conversation_id = conversations.id AND a.status = 'pending'))
        AND ($9::boolean IS NULL OR $9 = (${FAILED_TURNS} > 0))
        AND ($10::numeric IS NULL OR ${COST_USD} >= $10)
      ORDER BY created_at DESC, id DESC LIMIT $6`,
    [
      q.tenant,
      q.channel ?? null,
      q.status ?? null,
      q.after?.createdAtMicros ?? null,
      q.after?.id ?? null,
      q.limit + 1,
      q.humanMode ?? null,
      q.pendingApprovals ?? null,
      q.failedTurns ?? null,
      q.minCostUsd ?? null,
    ],
  );
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    rows: page,
    nextCursor:
      rows.length > q.limit && last ? encodeCursor({ createdAtMicros: last.created_us, id: last.id }) : null,
  };
}

export interface ItemRow {
  seq: string;
  item: Record<string, unknown>;
  type: string;
  role: string | null;
  turn: number | null;
  segment: number;
  item_key: string | null;
  created_at: Date;
  /** The operator who wrote it (human takeover); absent for the agent's and customer's items. */
  operator?: string | null;
}

export async function itemsPage(
  pool: Pool,
  q: { sessionId: string; after?: number; order: 'asc' | 'desc'; limit: number },
): Promise<ItemRow[]> {
  const cmp = q.order === 'asc' ? '>' : '<';
  const { rows } = await pool.query<ItemRow>(
    `SELECT s.seq, s.item, s.type, s.role, s.turn, s.segment, s.item_key, s.created_at, o.operator
       FROM session_items s
       LEFT JOIN operator_messages o ON o.conversation_id = s.session_id AND o.item_key = s.item_key
      WHERE s.session_id = $1 AND ($2::bigint IS NULL OR s.seq ${cmp} $2)
      ORDER BY s.seq ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT $3`,
    [q.sessionId, q.after ?? null, q.limit],
  );
  return rows;
}

export function toApiItem(r: ItemRow) {
  return {
    object: 'conversation.item' as const,
    id: String(r.seq),
    turn: r.turn,
    segment: r.segment,
    createdAt: r.created_at.toISOString(),
    item: r.item,
    ...(r.operator ? { operator: r.operator } : {}),
  };
}

export async function markClosed(pool: Pool, workflowId: string): Promise<void> {
  await pool.query(`UPDATE conversations SET status = 'closed', updated_at = now() WHERE id = $1`, [
    workflowId,
  ]);
}

/**
 * The `lastError` a tenant may read. Failures recorded since error records exist are already
 * sanitized ("... (error err_...)"); older rows, and runs still holding an older failure in memory,
 * may carry raw upstream text: only its "OpenAI <status> <code>" prefix is kept.
 */
export function publicError(lastError: string | null): string | null {
  if (lastError === null || /\(error err_[0-9a-f]{24}\)$/.test(lastError)) return lastError;
  const prefix = /^OpenAI (?:\d{3}|connection error)(?: [A-Za-z0-9_.-]{1,64})?(?=:)/.exec(lastError);
  return `${prefix ? prefix[0] : 'The turn failed'}: details withheld (ask an operator)`;
}
