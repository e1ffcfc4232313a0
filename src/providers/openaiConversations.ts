import type OpenAI from 'openai';
import { splitAtStep, trimToBudget } from '../activities/history.js';
import {
  factsOf,
  isContextTooLong,
  isConversationBroken,
  isConversationGone,
  toActivityFailure,
} from '../activities/openaiErrors.js';
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
    streaming: true,
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
    await convergeBeforeCall(ctx, conversation).catch((e: unknown) => {
      // A conversation that is gone is recreated below, on the call's own 404.
      const facts = factsOf(e);
      if (!facts || !isConversationGone(facts, conversation)) throw toActivityFailure(e);
    });
    const request: OpenAI.Responses.ResponseCreateParamsNonStreaming = {
      ...baseRequest(ctx.agent, ctx.step),
      conversation,
      input: ctx.stepInput as unknown as InputItem[],
    };
    try {
      const { data, requestId } = await createResponse(ctx.client, request, ctx.signal, ctx.stream);
      return fromResponse(data, request, requestId, null);
    } catch (err) {
      const facts = factsOf(err);
      const gone = facts !== undefined && isConversationGone(facts, conversation);
      const broken = facts !== undefined && isConversationBroken(facts);
      const tooLong = facts !== undefined && isContextTooLong(facts);
      if (!gone && !broken && !tooLong) throw toActivityFailure(err);
      // Broken: a function call in it has no output (a lost answer before this fix, an outside
      // writer), so every call on it fails. Too long: it outgrew the model's window. Either way the
      // transcript is sound: a new conversation seeded from it within the budget.
      const recovery = gone
        ? 'conversation_recreated'
        : tooLong
          ? 'context_trimmed'
          : 'conversation_repaired';
      ctx.warn(`OpenAI conversation unusable (${recovery}); recreating it from the transcript`, {
        conversation,
        recovery,
      });
      const replacement = await recreateConversation(ctx);
      const retry = { ...request, conversation: replacement.id, input: replacement.input };
      const { data, requestId } = await createResponse(ctx.client, retry, ctx.signal, ctx.stream).catch(
        (e: unknown) => {
          throw toActivityFailure(e);
        },
      );
      return fromResponse(data, retry, requestId, recovery);
    }
  },
};

/**
 * Makes a retried step start from the conversation its first attempt saw. The first attempt notes
 * the conversation's last item; a later one deletes every item after it: an earlier attempt's call
 * may have been applied (input and output appended) although its answer was lost, and sending the
 * input again would repeat the user's message, or leave that call's function_call without output.
 */
async function convergeBeforeCall(ctx: ProviderContext, conversation: string): Promise<void> {
  const { conversationId, turn, step } = ctx.step;
  const { rows } = await ctx.pool.query<{ openai_conversation_id: string; last_item_id: string | null }>(
    `SELECT openai_conversation_id, last_item_id FROM model_step_marks
     WHERE conversation_id = $1 AND turn = $2 AND step = $3`,
    [conversationId, turn, step],
  );
  const mark = rows[0];
  if (!mark || mark.openai_conversation_id !== conversation) {
    const latest = await ctx.client.conversations.items.list(
      conversation,
      { order: 'desc', limit: 1 },
      signalOption(ctx),
    );
    await ctx.pool.query(
      `INSERT INTO model_step_marks (conversation_id, turn, step, openai_conversation_id, last_item_id)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (conversation_id, turn, step) DO UPDATE
         SET openai_conversation_id = EXCLUDED.openai_conversation_id, last_item_id = EXCLUDED.last_item_id,
             created_at = now()`,
      [conversationId, turn, step, conversation, latest.data[0]?.id ?? null],
    );
    return;
  }
  const stale: string[] = [];
  let after = mark.last_item_id ?? undefined;
  for (;;) {
    const page = await ctx.client.conversations.items.list(
      conversation,
      { order: 'asc', limit: 100, ...(after ? { after } : {}) },
      signalOption(ctx),
    );
    for (const item of page.data) if (item.id) stale.push(item.id);
    if (!page.has_more || page.data.length === 0) break;
    after = page.data.at(-1)?.id ?? undefined;
  }
  if (stale.length === 0) return;
  ctx.warn('removing what an earlier attempt of this step appended to the OpenAI conversation', {
    conversation,
    items: stale.length,
  });
  for (const id of stale) {
    await ctx.client.conversations.items.delete(id, { conversation_id: conversation }, signalOption(ctx));
  }
}

function signalOption(ctx: ProviderContext): { signal?: AbortSignal } {
  return ctx.signal ? { signal: ctx.signal } : {};
}

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
