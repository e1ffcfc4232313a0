import { ApplicationFailure } from '@temporalio/activity';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { StreamSink } from '../streaming/publisher.js';
import type { AgentDefinition } from '../agents/types.js';
import type { NormalisedUsage, ProviderCall, StepRequest } from './types.js';

/** What every Responses API call of a step shares, whatever the strategy. */
export function baseRequest(
  agent: AgentDefinition,
  step: StepRequest,
): Omit<OpenAI.Responses.ResponseCreateParamsNonStreaming, 'input'> {
  const s = agent.modelSettings;
  return {
    model: agent.model,
    instructions: agent.instructions,
    store: s.store ?? true,
    metadata: requestMetadata(step),
    ...(agent.tools.length
      ? {
          tools: agent.tools.map((t) => ({
            type: 'function' as const,
            name: t.name,
            description: t.description,
            parameters: t.parameters as Record<string, unknown>,
            strict: t.strict,
          })),
          tool_choice: step.mode === 'normal' ? ('auto' as const) : ('none' as const),
          parallel_tool_calls: true,
        }
      : {}),
    ...(s.reasoning ? { reasoning: s.reasoning } : {}),
    ...includeFor(agent),
    ...(s.maxOutputTokens ? { max_output_tokens: s.maxOutputTokens } : {}),
    ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
  };
}

/**
 * A reasoning model's reasoning items are only usable as input again with their encrypted content
 * (store=false, a recovery, a re-sent window), so every call asks for it.
 */
export function isReasoningModel(agent: AgentDefinition): boolean {
  return agent.modelSettings.reasoning !== undefined || /^(o\d|gpt-5(?!-chat))/.test(agent.model);
}

function includeFor(agent: AgentDefinition): { include?: OpenAI.Responses.ResponseIncludable[] } {
  const include = new Set(agent.modelSettings.include ?? []);
  if (isReasoningModel(agent)) include.add('reasoning.encrypted_content');
  return include.size > 0 ? { include: [...include] } : {};
}

/** Who the call is for, within the API's limits (16 pairs, keys ≤ 64, values ≤ 512 characters). */
export function requestMetadata(step: Pick<StepRequest, 'key' | 'turn' | 'step'>): Record<string, string> {
  const clip = (v: string) => (v.length > 512 ? v.slice(0, 512) : v);
  return {
    tenant: clip(step.key.tenant),
    channel: clip(step.key.channel),
    conversation: clip(step.key.externalId),
    turn: String(step.turn),
    step: String(step.step),
  };
}

/**
 * The one call site of `responses.create`. With a sink the call streams (`stream: true`): every
 * event goes to the sink as it arrives and the result is the terminal event's response, the same
 * object a plain call returns, so what the step records does not depend on streaming. A stream
 * that ends without a terminal event (a cut connection) fails retryably.
 */
export async function createResponse(
  client: OpenAI,
  request: OpenAI.Responses.ResponseCreateParamsNonStreaming,
  signal?: AbortSignal,
  sink?: StreamSink,
): Promise<{ data: OpenAI.Responses.Response; requestId: string | null }> {
  const options = signal ? { signal } : {};
  if (!sink) {
    const { data, response } = await client.responses.create(request, options).withResponse();
    return { data, requestId: response.headers.get('x-request-id') };
  }
  const { data: stream, response } = await client.responses
    .create({ ...request, stream: true }, options)
    .withResponse();
  const requestId = response.headers.get('x-request-id');
  sink.begin();
  let final: OpenAI.Responses.Response | undefined;
  try {
    for await (const event of stream) {
      sink.event(event as unknown as { type: string });
      if (
        event.type === 'response.completed' ||
        event.type === 'response.incomplete' ||
        event.type === 'response.failed'
      )
        final = event.response;
    }
  } catch (err) {
    // An `error` event arrives as an APIError and is classified like any other; a body that
    // breaks off is a cut stream.
    if (err instanceof APIError) throw err;
    throw streamCut(err instanceof Error ? err.message : String(err));
  }
  if (!final) throw streamCut('the stream ended before response.completed');
  return { data: final, requestId };
}

function streamCut(detail: string): ApplicationFailure {
  return ApplicationFailure.retryable(`OpenAI stream cut: ${detail}`, 'OpenAIStreamCut');
}

export function fromResponse(
  response: OpenAI.Responses.Response,
  request: OpenAI.Responses.ResponseCreateParamsNonStreaming,
  requestId: string | null,
  recovered: ProviderCall['recovered'],
): ProviderCall {
  const u = response.usage;
  const usage: NormalisedUsage = {
    input_tokens: u?.input_tokens ?? 0,
    output_tokens: u?.output_tokens ?? 0,
    input_tokens_details: { cached_tokens: u?.input_tokens_details?.cached_tokens ?? 0 },
    output_tokens_details: { reasoning_tokens: u?.output_tokens_details?.reasoning_tokens ?? 0 },
  };
  const conversation = request.conversation;
  return {
    output: response.output as unknown as Record<string, unknown>[],
    responseId: response.id,
    previousResponseId: request.previous_response_id ?? null,
    openaiConversationId: typeof conversation === 'string' ? conversation : (conversation?.id ?? null),
    requestId,
    model: response.model,
    serviceTier: response.service_tier ?? null,
    fingerprint: null,
    usage,
    recovered,
    incomplete: response.status === 'incomplete' ? (response.incomplete_details?.reason ?? 'unknown') : null,
    raw: { status: response.status, incomplete_details: response.incomplete_details ?? null },
  };
}
