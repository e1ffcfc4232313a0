import { withTransaction, type Pool } from '../store/pool.js';

/** Sends a reply out through a channel (WhatsApp Cloud API, a signed callback, ...). */
export interface ChannelSender {
  /** Returns the provider's message id. Must pass `idempotencyKey` on where the provider accepts one. */
  send(reply: {
    conversationId: string;
    externalId: string;
    text: string;
    idempotencyKey: string;
  }): Promise<string | null>;
}

export interface DeliveryDeps {
  pool: Pool;
  senders: ReadonlyMap<string, ChannelSender>;
}

export interface DeliverReplyInput {
  conversationId: string;
  externalId: string;
  channel: string;
  turn: number;
}

export interface DeliverReplyResult {
  status: 'sent' | 'already_sent' | 'no_sender' | 'nothing_to_send';
}

/**
 * Sends a turn's reply once. The ledger row per (conversation, turn) is the memory: a retried
 * activity that finds it 'sent' does nothing. Channels without a sender (web chat reading replies
 * from the API) are recorded as such.
 */
export async function deliverReply(
  deps: DeliveryDeps,
  input: DeliverReplyInput,
): Promise<DeliverReplyResult> {
  const sender = deps.senders.get(input.channel);
  const { rows } = await deps.pool.query<{ status: string }>(
    `INSERT INTO deliveries (conversation_id, turn, channel, status, attempts)
     VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (conversation_id, turn) DO UPDATE SET attempts = deliveries.attempts + 1, updated_at = now()
     RETURNING status`,
    [input.conversationId, input.turn, input.channel, sender ? 'pending' : 'no_sender'],
  );
  const status = rows[0]?.status;
  if (status === 'sent') return { status: 'already_sent' };
  if (!sender) return { status: 'no_sender' };
  // The reply is read from the transcript, not passed in: it stays out of workflow history.
  const text = await replyText(deps.pool, input.conversationId, input.turn);
  if (text === null) return { status: 'nothing_to_send' };
  try {
    const providerMessageId = await sender.send({
      conversationId: input.conversationId,
      externalId: input.externalId,
      text,
      idempotencyKey: `${input.conversationId}/${input.turn}`,
    });
    await withTransaction(deps.pool, (tx) =>
      tx.query(
        `UPDATE deliveries SET status = 'sent', provider_message_id = $3, error = NULL, updated_at = now()
         WHERE conversation_id = $1 AND turn = $2`,
        [input.conversationId, input.turn, providerMessageId],
      ),
    );
    return { status: 'sent' };
  } catch (err) {
    await deps.pool.query(
      `UPDATE deliveries SET error = $3, updated_at = now() WHERE conversation_id = $1 AND turn = $2`,
      [input.conversationId, input.turn, err instanceof Error ? err.message : String(err)],
    );
    throw err;
  }
}

/** The turn's reply: its last assistant message (the final answer, or the apology of a failed turn). */
async function replyText(pool: Pool, conversationId: string, turn: number): Promise<string | null> {
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
