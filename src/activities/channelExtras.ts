import type { AgentRegistry } from '../agents/registry.js';
import type { TemplateSpec } from '../channels/actions.js';
import { senderKey } from '../channels/senders.js';
import type { Pool } from '../store/pool.js';
import type { ChannelSender } from './delivery.js';
import type { RecordTurnInputInput } from './transcript.js';

/** How long marking a turn's messages read may hold up the turn. */
const READ_RECEIPT_TIMEOUT_MS = 3_000;

/**
 * Marks the turn's latest message read with the typing indicator, where the channel offers it
 * (WhatsApp). Best effort: a failure or a slow provider is logged and never fails the turn.
 * Marking the latest message read marks the earlier ones read too.
 */
export async function markTurnRead(
  senders: ReadonlyMap<string, ChannelSender>,
  input: Pick<RecordTurnInputInput, 'conversationId' | 'key' | 'messages'>,
  log: { warn(message: string, attributes: Record<string, unknown>): void },
): Promise<void> {
  const sender = senders.get(senderKey(input.key.tenant, input.key.channel));
  const latest = input.messages.at(-1);
  if (!sender?.markRead || !latest) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sender.markRead(input.conversationId, latest.id),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), READ_RECEIPT_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    log.warn('read receipt not sent (the turn goes on)', {
      conversationId: input.conversationId,
      error: (err instanceof Error ? err.message : String(err)).slice(0, 200),
    });
  } finally {
    clearTimeout(timer);
  }
}

/** The WhatsApp template of the conversation's agent, sent instead of messages outside the window. */
export async function agentTemplate(
  deps: { pool: Pool; agents: AgentRegistry },
  conversationId: string,
): Promise<TemplateSpec | undefined> {
  const { rows } = await deps.pool.query<{ agent: string }>('SELECT agent FROM conversations WHERE id = $1', [
    conversationId,
  ]);
  const agent = rows[0] ? deps.agents.get(rows[0].agent) : undefined;
  return agent?.whatsappTemplate;
}
