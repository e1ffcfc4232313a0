import type OpenAI from 'openai';
import { historyAsText, sanitizeForInput, splitAtStep, trimToBudget } from '../activities/history.js';
import {
  factsOf,
  isContextTooLong,
  isPreviousResponseGone,
  toActivityFailure,
} from '../activities/openaiErrors.js';
import type { AgentDefinition, InputItem } from '../agents/types.js';
import { baseRequest, createResponse, fromResponse, isReasoningModel } from './request.js';
import type { ModelProvider, ProviderContext } from './types.js';

/**
 * The Responses API chained by `previous_response_id` (the `previous_response_id` strategy), or
 * sent the whole segment from Postgres with `store: false` (the `stateless` strategy). When the
 * chained response has expired, the step recovers from the transcript in the same attempt.
 */
export const openaiResponses: ModelProvider = {
  name: 'openai-responses',
  capabilities: {
    storedState: true,
    streaming: true,
    conversationObjects: false,
    identifiers: ['response_id', 'previous_response_id', 'request_id', 'service_tier'],
  },
  async call(ctx: ProviderContext) {
    const { agent, step, stepInput } = ctx;
    const base = baseRequest(agent, step);
    if (agent.strategy === 'stateless') {
      const history = await ctx.loadHistory();
      const statelessRequest = (budget: number) => ({
        ...base,
        store: false,
        input: sanitizeForInput(trimToBudget(history, budget, stepInput.length), {
          reasoning: isReasoningModel(agent),
        }),
      });
      // A budget larger than this model's window: halve it until the window fits (three times at
      // most), recorded as a trim.
      for (let halvings = 0; ; halvings++) {
        const request = statelessRequest(Math.floor(agent.historyTokenBudget / 2 ** halvings));
        try {
          const { data, requestId } = await createResponse(ctx.client, request, ctx.signal, ctx.stream);
          return fromResponse(data, request, requestId, halvings > 0 ? 'context_trimmed' : null);
        } catch (err) {
          const facts = factsOf(err);
          if (!facts || !isContextTooLong(facts) || halvings === 3) throw toActivityFailure(err);
          ctx.warn('history budget exceeds the context window; re-sending half of it', {
            historyTokenBudget: agent.historyTokenBudget,
            halvings: halvings + 1,
          });
        }
      }
    }

    // Nothing to chain on: the first call of a segment. If the transcript already holds earlier
    // items (migrated threads, a legacy table), they are sent once within the budget; from then
    // on the chain carries them.
    const input = step.previousResponseId ? (stepInput as unknown as InputItem[]) : await bootstrapInput(ctx);
    const request: OpenAI.Responses.ResponseCreateParamsNonStreaming = {
      ...base,
      input,
      ...(step.previousResponseId ? { previous_response_id: step.previousResponseId } : {}),
    };
    try {
      const { data, requestId } = await createResponse(ctx.client, request, ctx.signal, ctx.stream);
      return fromResponse(data, request, requestId, null);
    } catch (err) {
      const facts = factsOf(err);
      const gone = facts !== undefined && isPreviousResponseGone(facts, step.previousResponseId);
      const tooLong = facts !== undefined && isContextTooLong(facts);
      if (!gone && !tooLong) throw toActivityFailure(err);
      // The chain is gone (30-day expiry, deletion, store=false), or it outgrew the model's window:
      // re-send the history from Postgres within the budget; the next call chains on that response.
      const recovery = tooLong
        ? 'context_trimmed'
        : agent.recovery === 'instructions'
          ? 'history_instructions'
          : 'history_items';
      ctx.warn(
        tooLong
          ? 'chain exceeds the context window; starting a new one from the transcript'
          : 'previous response gone; recovering from the transcript',
        {
          previousResponseId: step.previousResponseId,
          recovery,
        },
      );
      const retry = recoveryRequest(agent, base, await ctx.loadHistory(), stepInput.length);
      const { data, requestId } = await createResponse(ctx.client, retry, ctx.signal, ctx.stream).catch(
        (e: unknown) => {
          throw toActivityFailure(e);
        },
      );
      return fromResponse(data, retry, requestId, recovery);
    }
  },
};

function recoveryRequest(
  agent: AgentDefinition,
  base: Omit<OpenAI.Responses.ResponseCreateParamsNonStreaming, 'input'>,
  history: Record<string, unknown>[],
  newItems: number,
): OpenAI.Responses.ResponseCreateParamsNonStreaming {
  const window = trimToBudget(history, agent.historyTokenBudget, newItems);
  const reasoning = isReasoningModel(agent);
  if (agent.recovery === 'instructions') {
    // After a tool round the step's input is tool outputs: their calls go with them, as items.
    const { earlier, current } = splitAtStep(window, newItems, { reasoning });
    return {
      ...base,
      instructions:
        `${agent.instructions}\n\nThe conversation so far (restored from the transcript):\n` +
        historyAsText(earlier as unknown as Record<string, unknown>[]),
      input: current,
    };
  }
  return { ...base, input: sanitizeForInput(window, { reasoning }) };
}

async function bootstrapInput(ctx: ProviderContext): Promise<InputItem[]> {
  const history = await ctx.loadHistory();
  if (history.length <= ctx.stepInput.length) return ctx.stepInput as unknown as InputItem[];
  return sanitizeForInput(trimToBudget(history, ctx.agent.historyTokenBudget, ctx.stepInput.length), {
    reasoning: isReasoningModel(ctx.agent),
  });
}
