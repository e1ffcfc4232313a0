import type OpenAI from 'openai';
import { sanitizeForInput, trimToBudget } from '../activities/history.js';
import { toActivityFailure } from '../activities/openaiErrors.js';
import { fromChatCompletion, toChatMessages, toChatTools } from './chatMessages.js';
import type { ModelProvider, ProviderContext } from './types.js';

/**
 * Stateless Chat Completions-compatible endpoints (OpenRouter, Gemini's and Anthropic's
 * OpenAI-compatible endpoints, vLLM, Ollama): every call sends the current segment from Postgres,
 * newest first within the agent's token budget, and tool calls are mapped both ways. Nothing can
 * expire server-side, so there is nothing to recover.
 */
export const chatCompletions: ModelProvider = {
  name: 'chat-completions',
  capabilities: {
    storedState: false,
    conversationObjects: false,
    // Not yet: the chat stream's tool-call deltas would need their own mapping to items.
    streaming: false,
    identifiers: ['completion_id', 'request_id', 'system_fingerprint', 'service_tier'],
  },
  async call(ctx: ProviderContext) {
    const { agent, step } = ctx;
    const history = sanitizeForInput(
      trimToBudget(await ctx.loadHistory(), agent.historyTokenBudget, ctx.stepInput.length),
    );
    const s = agent.modelSettings;
    const request: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
      model: agent.model,
      messages: toChatMessages(agent.instructions, history as unknown as Record<string, unknown>[]),
      ...(agent.tools.length
        ? {
            tools: toChatTools(agent.tools),
            tool_choice: step.mode === 'normal' ? 'auto' : 'none',
            parallel_tool_calls: true,
          }
        : {}),
      ...(s.maxOutputTokens ? { max_completion_tokens: s.maxOutputTokens } : {}),
      ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
      ...(s.reasoning?.effort ? { reasoning_effort: s.reasoning.effort } : {}),
    };
    let completion: OpenAI.Chat.ChatCompletion;
    let requestId: string | null;
    try {
      const { data, response } = await ctx.client.chat.completions
        .create(request, ctx.signal ? { signal: ctx.signal } : {})
        .withResponse();
      completion = data;
      requestId = response.headers.get('x-request-id');
    } catch (err) {
      throw toActivityFailure(err);
    }
    const u = completion.usage;
    return {
      output: fromChatCompletion(completion),
      responseId: completion.id,
      previousResponseId: null,
      openaiConversationId: null,
      requestId,
      model: completion.model,
      serviceTier: completion.service_tier ?? null,
      fingerprint: completion.system_fingerprint ?? null,
      usage: {
        input_tokens: u?.prompt_tokens ?? 0,
        output_tokens: u?.completion_tokens ?? 0,
        input_tokens_details: { cached_tokens: u?.prompt_tokens_details?.cached_tokens ?? 0 },
        output_tokens_details: { reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? 0 },
      },
      recovered: null,
      incomplete: incompleteReason(completion.choices[0]?.finish_reason),
      raw: { finish_reason: completion.choices[0]?.finish_reason ?? null },
    };
  },
};

/** A Chat Completions finish reason in the Responses API's `incomplete_details.reason` terms. */
function incompleteReason(finish: string | undefined | null): string | null {
  if (finish === 'length') return 'max_output_tokens';
  if (finish === 'content_filter') return 'content_filter';
  return null;
}
