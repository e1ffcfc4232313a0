import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { classify, factsOf } from '../activities/openaiErrors.js';
import type { ProviderCall } from '../providers/types.js';

export interface ModelCallFacts {
  provider: string;
  model: string;
  turn: number;
  step: number;
  mode: string;
}

/**
 * One span around one model call (a recovery inside it included), named and attributed after
 * OpenTelemetry's GenAI conventions: model, response id, token usage, how state was recovered.
 * Never the prompt, the output, the key or the error's text. Without a tracer provider (tracing
 * off) the span is a no-op.
 */
export async function traceModelCall(
  facts: ModelCallFacts,
  call: () => Promise<ProviderCall>,
): Promise<ProviderCall> {
  const tracer = trace.getTracer('threadline');
  return tracer.startActiveSpan(
    `chat ${facts.model}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': facts.model,
        'threadline.provider': facts.provider,
        'threadline.turn': facts.turn,
        'threadline.step': facts.step,
        'threadline.mode': facts.mode,
      },
    },
    async (span) => {
      try {
        const result = await call();
        span.setAttributes({
          'gen_ai.response.id': result.responseId,
          'gen_ai.response.model': result.model,
          'gen_ai.usage.input_tokens': result.usage.input_tokens,
          'gen_ai.usage.output_tokens': result.usage.output_tokens,
          'threadline.usage.cached_input_tokens': result.usage.input_tokens_details.cached_tokens,
          'threadline.usage.reasoning_tokens': result.usage.output_tokens_details.reasoning_tokens,
          'threadline.recovery': result.recovered ?? 'none',
          ...(result.incomplete ? { 'threadline.incomplete': result.incomplete } : {}),
          ...(result.requestId ? { 'threadline.request_id': result.requestId } : {}),
        });
        return result;
      } catch (err) {
        span.setAttribute('error.type', errorType(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** The failure's class (`OpenAI429`, `OpenAIConnectionError`, `TypeError`): never its message. */
function errorType(err: unknown): string {
  const facts = factsOf(err);
  if (facts) return classify(facts).type;
  return err instanceof Error ? err.name : 'unknown';
}
