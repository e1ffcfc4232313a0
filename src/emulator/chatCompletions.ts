import type { EmulatorClock } from './clock.js';
import { invalidRequest, invalidType, invalidValue, missingParameter, unknownParameter } from './errors.js';
import { CHAT_USER_PART_TYPES, describeChatMediaPart } from './media.js';
import { newId } from './ids.js';
import type { Item } from './items.js';
import { runModel, type FunctionToolDef, type ToolChoice } from './model.js';
import { computeUsage } from './tokens.js';
import { isRecord, parseMetadata } from './validation.js';

/**
 * `POST /v1/chat/completions`: the stateless API that OpenAI-compatible providers (OpenRouter,
 * Gemini's and Anthropic's compatibility endpoints, vLLM, Ollama) speak. The same scripted model
 * answers, so a reply shows what the request carried. Nothing is stored.
 */

const KNOWN = new Set([
  'model',
  'messages',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'metadata',
  'store',
  'stream',
  'user',
  'n',
  'seed',
  'stop',
  'response_format',
  'reasoning_effort',
  'service_tier',
  'prompt_cache_key',
  'safety_identifier',
  'frequency_penalty',
  'presence_penalty',
  'logprobs',
  'top_logprobs',
]);

type ChatMessage = Record<string, unknown>;

export function createChatCompletion(rawBody: unknown, clock: EmulatorClock): Record<string, unknown> {
  if (!isRecord(rawBody)) throw invalidType('body', 'an object', rawBody);
  for (const key of Object.keys(rawBody)) if (!KNOWN.has(key)) throw unknownParameter(key);
  if (rawBody.stream === true) {
    throw invalidRequest(
      "The Threadline emulator does not support streaming ('stream': true). Send the request without 'stream'.",
      'stream',
      'unsupported_value',
    );
  }
  if (rawBody.model === undefined) throw missingParameter('model');
  if (typeof rawBody.model !== 'string') throw invalidType('model', 'a string', rawBody.model);
  if (rawBody.messages === undefined) throw missingParameter('messages');
  if (!Array.isArray(rawBody.messages)) throw invalidType('messages', 'an array', rawBody.messages);
  if (rawBody.messages.length === 0) {
    throw invalidRequest(
      "Invalid 'messages': empty array. Expected an array with minimum length 1.",
      'messages',
      'empty_array',
    );
  }
  if (rawBody.metadata !== undefined) parseMetadata(rawBody.metadata);
  const tools = parseChatTools(rawBody.tools);
  const toolChoice = parseChatToolChoice(rawBody.tool_choice);
  const { items, instructions } = toItems(rawBody.messages as ChatMessage[]);
  assertToolResponses(rawBody.messages as ChatMessage[]);

  const planned = runModel({
    context: items,
    instructions,
    tools,
    toolChoice,
    parallelToolCalls: rawBody.parallel_tool_calls !== false,
  });
  const text = planned
    .filter((p) => p.kind === 'text')
    .map((p) => (p as { text: string }).text)
    .join('');
  const toolCalls = planned
    .filter((p) => p.kind === 'function_call')
    .map((p) => {
      const call = p as { name: string; arguments: string };
      return {
        id: newId('call', 24),
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      };
    });
  const outputItems: Item[] = [
    ...(text
      ? [
          {
            type: 'message',
            id: 'o',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
          } as Item,
        ]
      : []),
    ...toolCalls.map(
      (c) =>
        ({
          type: 'function_call',
          id: 'o',
          call_id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
          status: 'completed',
        }) as Item,
    ),
  ];
  const usage = computeUsage({ priorItems: [], newItems: items, instructions, output: outputItems });
  return {
    id: newId('chatcmpl', 15).replace('_', '-'),
    object: 'chat.completion',
    created: Math.floor(clock.now() / 1000),
    model: rawBody.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || null,
          refusal: null,
          annotations: [],
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
      },
    ],
    usage: {
      prompt_tokens: usage.input_tokens,
      completion_tokens: usage.output_tokens,
      total_tokens: usage.total_tokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_threadline_emulator',
  };
}

function textOf(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw invalidType(param, 'a string or an array of content parts', content);
  return content
    .map((part: unknown, i) => {
      if (!isRecord(part) || part.type !== 'text' || typeof part.text !== 'string') {
        // The live API: system, developer and tool messages take text parts only.
        if (isRecord(part) && typeof part.type === 'string' && part.type !== 'text')
          throw invalidValue(`${param}[${i}].type`, part.type, ['text']);
        throw invalidRequest(
          `Invalid '${param}[${i}]': only text content parts are supported by the emulator.`,
          `${param}[${i}]`,
        );
      }
      return part.text;
    })
    .join('');
}

/**
 * A user message's text as the scripted model sees it: text parts, and image_url/file parts as
 * their description (media.ts). Audio input is a real part type the emulator cannot hear.
 */
function userText(content: unknown, param: string): string {
  if (!Array.isArray(content)) return textOf(content, param);
  return content
    .map((part: unknown, i) => {
      const p = `${param}[${i}]`;
      if (!isRecord(part)) throw invalidType(p, 'an object', part);
      if (part.type === 'image_url' || part.type === 'file') return `${describeChatMediaPart(part, p)}\n`;
      if (part.type === 'text') {
        if (typeof part.text !== 'string') throw invalidType(`${p}.text`, 'a string', part.text);
        return part.text;
      }
      if (part.type === 'input_audio')
        throw invalidRequest(
          `Invalid '${p}': audio input is not supported by the emulator.`,
          p,
          'unsupported_value',
        );
      throw invalidValue(`${p}.type`, part.type, CHAT_USER_PART_TYPES);
    })
    .join('');
}

/** Chat messages as the scripted model's items; system and developer messages become instructions. */
function toItems(messages: ChatMessage[]): { items: Item[]; instructions: string | null } {
  const items: Item[] = [];
  const instructions: string[] = [];
  messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    if (!isRecord(m)) throw invalidType(param, 'an object', m);
    switch (m.role) {
      case 'system':
      case 'developer':
        instructions.push(textOf(m.content, `${param}.content`));
        break;
      case 'user':
        items.push({
          type: 'message',
          id: 'i',
          role: 'user',
          status: 'completed',
          content: [{ type: 'input_text', text: userText(m.content, `${param}.content`) }],
        });
        break;
      case 'assistant': {
        const text = textOf(m.content, `${param}.content`);
        if (text)
          items.push({
            type: 'message',
            id: 'i',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
          });
        for (const call of Array.isArray(m.tool_calls) ? (m.tool_calls as Record<string, unknown>[]) : []) {
          const fn = (call.function ?? {}) as Record<string, unknown>;
          items.push({
            type: 'function_call',
            id: 'i',
            call_id: String(call.id),
            name: String(fn.name),
            arguments: String(fn.arguments ?? '{}'),
            status: 'completed',
          });
        }
        break;
      }
      case 'tool':
        if (typeof m.tool_call_id !== 'string') throw missingParameter(`${param}.tool_call_id`);
        items.push({
          type: 'function_call_output',
          id: 'i',
          call_id: m.tool_call_id,
          output: textOf(m.content, `${param}.content`),
          status: 'completed',
        });
        break;
      default:
        throw invalidRequest(
          `Invalid value: '${String(m.role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'.`,
          `${param}.role`,
          'invalid_value',
        );
    }
  });
  return { items, instructions: instructions.length ? instructions.join('\n\n') : null };
}

/** The live API's rule: every tool call must be answered by a tool message before the next turn. */
function assertToolResponses(messages: ChatMessage[]): void {
  const answered = new Set(messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id));
  const missing = messages
    .filter((m) => m.role === 'assistant' && Array.isArray(m.tool_calls))
    .flatMap((m) => (m.tool_calls as { id: string }[]).map((c) => c.id))
    .filter((id) => !answered.has(id));
  if (missing.length) {
    throw invalidRequest(
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${missing.join(', ')}`,
      'messages',
    );
  }
}

function parseChatTools(value: unknown): FunctionToolDef[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidType('tools', 'an array', value);
  return value.map((t: unknown, i) => {
    if (
      !isRecord(t) ||
      t.type !== 'function' ||
      !isRecord(t.function) ||
      typeof t.function.name !== 'string'
    ) {
      throw invalidRequest(
        `Invalid 'tools[${i}]': expected {"type": "function", "function": {"name": ...}}.`,
        `tools[${i}]`,
      );
    }
    return {
      type: 'function',
      name: t.function.name,
      description: (t.function.description as string | undefined) ?? null,
      parameters: (t.function.parameters as Record<string, unknown> | undefined) ?? null,
      strict: (t.function.strict as boolean | undefined) ?? null,
    };
  });
}

function parseChatToolChoice(value: unknown): ToolChoice {
  if (value === undefined || value === null) return 'auto';
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (
    isRecord(value) &&
    value.type === 'function' &&
    isRecord(value.function) &&
    typeof value.function.name === 'string'
  ) {
    return { type: 'function', name: value.function.name };
  }
  throw invalidRequest("Invalid 'tool_choice'.", 'tool_choice', 'invalid_value');
}
