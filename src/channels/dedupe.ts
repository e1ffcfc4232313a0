import type { Pool } from '../store/pool.js';

/**
 * Provider message ids already handed to a conversation (table channel_events). Checked before
 * signalling and recorded after: a crash in between means one more signal, which the workflow
 * dedupes by message id; recording first could lose a message whose signal then failed.
 */
export async function seenBefore(pool: Pool, channel: string, providerMessageId: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    'SELECT 1 FROM channel_events WHERE channel = $1 AND provider_message_id = $2',
    [channel, providerMessageId],
  );
  return (rowCount ?? 0) > 0;
}

export async function remember(
  pool: Pool,
  channel: string,
  providerMessageId: string,
  conversationId: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO channel_events (channel, provider_message_id, conversation_id) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING`,
    [channel, providerMessageId, conversationId],
  );
}
