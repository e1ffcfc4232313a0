import type OpenAI from 'openai';
import { splitAtStep, trimToBudget } from '../activities/history.js';
import { factsOf, isConversationGone, toActivityFailure } from '../activities/openaiErrors.js';
import type { InputItem } from '../agents/types.js';
import { baseRequest, createResponse, fromResponse, requestMetadata } from './request.js';
import type { ModelProvider, ProviderContext } from './types.js';

/** Items the API accepts per conversation items call. */
const ITEMS_PER_CALL = 20;

/**
 * An OpenAI conversation object holds the state (the `conversation` strategy): created on first use
 * and kept in `conversations.openai_conversation_id`; not subject to the 30-day expiry of stored
 * responses. A deleted or missing one is recreated and seeded from the transcript.
 */
export const openaiConversations: ModelProvider = {
  name: 'openai-conversations',
  capabilities: {
    storedState: true,
    conversationObjects: true,
    identifiers: ['response_id', 'conversation_id', 'request_id', 'service_tier'],
  },
  async call(ctx: ProviderContext) {
    const { rows } = await ctx.pool.query<{ openai_conversation_id: string | null }>(
      'SELECT openai_conversation_id FROM conversations WHERE id = $1',
      [ctx.step.conversationId],
    );
    const existing = rows[0]?.openai_conversation_id ?? null;
    const conversation = existing ?? (await ensureConversation(ctx));
    const request: OpenAI.Responses.ResponseCreateParamsNonStreaming = {
      ...baseRequest(ctx.agent, ctx.step),
      conversation,
      input: ctx.stepInput as unknown as InputItem[],
    };
    try {
      const { data, requestId } = await createResponse(ctx.client, request, ctx.signal);
      return fromResponse(data, request, requestId, null);
    } catch (err) {
      const facts = factsOf(err);
      if (!facts || !isConversationGone(facts, conversation)) throw toActivityFailure(err);
      ctx.warn('OpenAI conversation gone; recreating it from the transcript', { conversation });
      const replacement = await recreateConversation(ctx);
      const retry = { ...request, conversation: replacement.id, input: replacement.input };
      const { data, requestId } = await createResponse(ctx.client, retry, ctx.signal).catch((e: unknown) => {
        throw toActivityFailure(e);
      });
      return fromResponse(data, retry, requestId, 'conversation_recreated');
    }
  },
};

/** Two attempts racing both create one; the first to record it wins and the other is deleted. */
async function ensureConversation(ctx: ProviderContext): Promise<string> {
  const created = await ctx.client.conversations
    .create({ metadata: requestMetadata(ctx.step) })
    .catch((e: unknown) => {
      throw toActivityFailure(e);
    });
  const { rows } = await ctx.pool.query<{ openai_conversation_id: string }>(
    `UPDATE conversations SET openai_conversation_id = COALESCE(openai_conversation_id, $2), updated_at = now()
     WHERE id = $1 RETURNING openai_conversation_id`,
    [ctx.step.conversationId, created.id],
  );
  const winner = rows[0]?.openai_conversation_id ?? created.id;
  if (winner !== created.id) await ctx.client.conversations.delete(created.id).catch(() => {});
  return winner;
}

/**
 * A new conversation seeded with the transcript before this step, and the step's input for it: after
 * a tool round that is the calls with their outputs, since the new conversation has neither.
 * Reasoning items stay out of the seed: conversation items are not the place to replay them.
 */
async function recreateConversation(ctx: ProviderContext): Promise<{ id: string; input: InputItem[] }> {
  const history = await ctx.loadHistory();
  const newItems = ctx.stepInput.length;
  const window = trimToBudget(history, ctx.agent.historyTokenBudget, newItems);
  const { earlier: seed, current } = splitAtStep(window, newItems);
  try {
    const created = await ctx.client.conversations.create({ metadata: requestMetadata(ctx.step) });
    for (let i = 0; i < seed.length; i += ITEMS_PER_CALL) {
      await ctx.client.conversations.items.create(created.id, {
        items: seed.slice(i, i + ITEMS_PER_CALL) as OpenAI.Conversations.ItemCreateParams['items'],
      });
    }
    await ctx.pool.query(
      'UPDATE conversations SET openai_conversation_id = $2, updated_at = now() WHERE id = $1',
      [ctx.step.conversationId, created.id],
    );
    return { id: created.id, input: current };
  } catch (err) {
    throw toActivityFailure(err);
  }
}
