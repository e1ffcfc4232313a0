import { sanitizeForInput } from './history.js';
import { ensureConversation, finishTurn, type FinishTurnInput, type TranscriptDeps } from './transcript.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { appendItems, lockSession } from '../store/transcript.js';
import type { ConversationKey } from '../workflows/ids.js';
import type { HumanMode, OperatorMessage } from '../workflows/messages.js';

/**
 * The Postgres side of human takeover: the conversation's human mode (restored by a new run), the
 * customer turns recorded without the model, the operator's replies as transcript items of their
 * own turns (delivered by deliverReply under that turn, like any reply), and the catch-up items
 * the next model call sends after the hand back.
 */

export interface RecordHumanModeInput {
  conversationId: string;
  key: ConversationKey;
  agent: string;
  segment: number;
  humanMode: HumanMode | null;
}

export async function recordHumanMode(deps: TranscriptDeps, input: RecordHumanModeInput): Promise<void> {
  const h = input.humanMode;
  await ensureConversation(deps.pool, input);
  await deps.pool.query(
    `UPDATE conversations SET human_mode = $2, human_operator = $3, human_reason = $4, human_since = $5::timestamptz,
       updated_at = now() WHERE id = $1`,
    [input.conversationId, h !== null, h?.operator ?? null, h?.reason ?? null, h?.since ?? null],
  );
}

/** A customer turn in human mode: finished like any turn (no model call, no reply), marked as such. */
export async function finishHumanTurn(deps: TranscriptDeps, input: FinishTurnInput): Promise<void> {
  await finishTurn(deps, { ...input, error: null, apology: null });
  await deps.pool.query(
    'UPDATE inbound_messages SET in_human_mode = true WHERE conversation_id = $1 AND turn = $2',
    [input.conversationId, input.turn],
  );
}

export interface RecordOperatorMessageInput {
  conversationId: string;
  key: ConversationKey;
  agent: string;
  segment: number;
  /** The workflow's next turn number; Postgres may know it is taken (then a later one). */
  turn: number;
  message: OperatorMessage;
}

export interface RecordOperatorMessageResult {
  turn: number;
  /** The id was recorded before (a retried update, a new run): its turn, nothing written. */
  duplicate: boolean;
}

/**
 * The operator's reply as the only item of a turn of its own, an assistant message (what the model
 * sees later) with its operator in operator_messages. Idempotent by message id.
 */
export async function recordOperatorMessage(
  deps: TranscriptDeps,
  input: RecordOperatorMessageInput,
): Promise<RecordOperatorMessageResult> {
  return withTransaction(deps.pool, async (tx) => {
    await lockSession(tx, input.conversationId);
    const { rows: known } = await tx.query<{ turn: number }>(
      'SELECT turn FROM operator_messages WHERE conversation_id = $1 AND message_id = $2',
      [input.conversationId, input.message.id],
    );
    if (known[0]) return { turn: known[0].turn, duplicate: true };
    const { rows } = await tx.query<{ highest: number | null }>(
      `SELECT GREATEST(
          (SELECT max(turn) FROM inbound_messages WHERE conversation_id = $1),
          (SELECT max(turn) FROM session_items WHERE session_id = $1),
          (SELECT turns FROM conversations WHERE id = $1)) AS highest`,
      [input.conversationId],
    );
    const turn = Math.max(input.turn, (rows[0]?.highest ?? 0) + 1);
    const itemKey = `t${turn}/op/0`;
    await ensureConversation(tx, input);
    await appendItems(tx, input.conversationId, [
      {
        itemKey,
        item: {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: input.message.text, annotations: [] }],
        },
        turn,
        segment: input.segment,
      },
    ]);
    await tx.query(
      `INSERT INTO operator_messages (conversation_id, message_id, tenant, turn, operator, item_key)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        input.conversationId,
        input.message.id,
        input.key.tenant,
        turn,
        input.message.operator.trim(),
        itemKey,
      ],
    );
    await tx.query('UPDATE conversations SET turns = GREATEST(turns, $2), updated_at = now() WHERE id = $1', [
      input.conversationId,
      turn,
    ]);
    return { turn, duplicate: false };
  });
}

/**
 * What the model's server-side state lacks after a takeover: the items of turns `fromTurn` up to
 * (not including) `beforeTurn` in the segment (customer messages and operator replies), as input.
 */
export async function loadCatchUpItems(
  pool: Pool,
  conversationId: string,
  segment: number,
  fromTurn: number,
  beforeTurn: number,
): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query<{ item: Record<string, unknown> }>(
    `SELECT item FROM session_items
      WHERE session_id = $1 AND segment = $2 AND turn >= $3 AND turn < $4 ORDER BY seq`,
    [conversationId, segment, fromTurn, beforeTurn],
  );
  return sanitizeForInput(rows.map((r) => r.item)) as unknown as Record<string, unknown>[];
}
