import type { Pool } from '../../store/pool.js';
import type { WhatsAppReaction } from './payload.js';

/** Records a reaction once (Meta redelivers); true when it was new. */
export async function recordReaction(
  pool: Pool,
  input: { tenant: string; channel: string; conversationId: string; reaction: WhatsAppReaction },
): Promise<boolean> {
  const r = input.reaction;
  const { rowCount } = await pool.query(
    `INSERT INTO inbound_reactions (tenant, channel, message_id, conversation_id, reacted_to, emoji, sent_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (channel, message_id) DO NOTHING`,
    [
      input.tenant,
      input.channel,
      r.id,
      input.conversationId,
      r.messageId,
      r.emoji.slice(0, 64),
      r.sentAt ?? null,
    ],
  );
  return (rowCount ?? 0) > 0;
}
