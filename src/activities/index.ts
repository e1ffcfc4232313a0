import type OpenAI from 'openai';
import type { AgentRegistry } from '../agents/registry.js';
import type { Pool } from '../store/pool.js';
import type { ConversationKey } from '../workflows/ids.js';
import type { InboundMessage } from '../workflows/messages.js';
import { callModel, type CallModelInput } from './model.js';
import { appendItems } from '../store/transcript.js';
import { withTransaction } from '../store/pool.js';

export interface ActivityDeps {
  pool: Pool;
  openai: OpenAI;
  agents: AgentRegistry;
}

export interface RecordUserMessageInput {
  conversationId: string;
  key: ConversationKey;
  agent: string;
  turn: number;
  message: InboundMessage;
}

/** Activities bound to their dependencies; the worker registers the returned object. */
export function createActivities(deps: ActivityDeps) {
  return {
    async recordUserMessage(input: RecordUserMessageInput): Promise<void> {
      await withTransaction(deps.pool, async (tx) => {
        await tx.query(
          `INSERT INTO conversations (id, tenant, channel, external_id, agent)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
          [input.conversationId, input.key.tenant, input.key.channel, input.key.externalId, input.agent],
        );
        await appendItems(tx, input.conversationId, [
          {
            itemKey: `t${input.turn}/in/${input.message.id}`,
            item: {
              type: 'message',
              role: 'user',
              content: [{ type: 'input_text', text: input.message.text }],
            },
            turn: input.turn,
          },
        ]);
      });
    },
    callModel: (input: CallModelInput) => callModel(deps, input),
  };
}
