import { encryptedContentNotVerified, invalidRequest, invalidType, missingParameter } from './errors.js';
import { newId } from './ids.js';
import { describeMediaPart, isMediaPart } from './media.js';
import { unseal } from './sealed.js';

/** Wire shapes of the items the emulator stores and returns (a subset of the spec's ItemResource). */
export interface InputTextPart {
  type: 'input_text';
  text: string;
}
export interface OutputTextPart {
  type: 'output_text';
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}
export interface UserMessageItem {
  type: 'message';
  id: string;
  role: 'user' | 'system' | 'developer';
  status: 'completed';
  content: InputTextPart[];
}
export interface AssistantMessageItem {
  type: 'message';
  id: string;
  role: 'assistant';
  /** 'incomplete' when max_output_tokens or the content filter cut it short. */
  status: 'completed' | 'incomplete';
  content: OutputTextPart[];
}
export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'completed';
}
export interface FunctionCallOutputItem {
  type: 'function_call_output';
  id: string;
  call_id: string;
  output: string | unknown[];
  status: 'completed';
}
/** A reasoning model's chain of thought: opaque, summary empty (the emulator writes no summaries). */
export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: unknown[];
  /** Only when the request asked for `include: ['reasoning.encrypted_content']`. */
  encrypted_content?: string | null;
}
/** What compaction (`/v1/responses/compact` or `context_management`) leaves of earlier context. */
export interface CompactionItem {
  type: 'compaction';
  id: string;
  encrypted_content: string;
}
export type Item =
  | UserMessageItem
  | AssistantMessageItem
  | FunctionCallItem
  | FunctionCallOutputItem
  | ReasoningItem
  | CompactionItem;

const MESSAGE_ROLES = ['user', 'system', 'developer', 'assistant'] as const;
const SUPPORTED_TYPES = [
  'message',
  'function_call',
  'function_call_output',
  'reasoning',
  'compaction',
] as const;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function userMessage(text: string, id = newId('msg')): UserMessageItem {
  return { type: 'message', id, role: 'user', status: 'completed', content: [{ type: 'input_text', text }] };
}

export function assistantMessage(text: string, id = newId('msg')): AssistantMessageItem {
  return {
    type: 'message',
    id,
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
  };
}

/** The plain text of an item, as the scripted model and the token estimate see it. */
export function itemText(item: Item): string {
  switch (item.type) {
    case 'message':
      return item.content.map((p) => p.text).join('\n');
    case 'function_call':
      return `${item.name} ${item.arguments}`;
    case 'function_call_output':
      return typeof item.output === 'string' ? item.output : JSON.stringify(item.output);
    case 'reasoning':
    case 'compaction':
      return '';
  }
}

export const isUserMessage = (item: Item): item is UserMessageItem =>
  item.type === 'message' && item.role === 'user';

function textParts(content: unknown, param: string, role: string): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) throw invalidType(param, 'one of a string or array', content);
  return content.map((part, i) => {
    const p = `${param}[${i}]`;
    if (!isRecord(part)) throw invalidType(p, 'an object', part);
    // Images and files reach the scripted model as a description of what they hold (media.ts).
    if (role !== 'assistant' && isMediaPart(part)) return `${describeMediaPart(part, p)}\n`;
    const allowed =
      role === 'assistant' ? ['output_text', 'refusal'] : ['input_text', 'input_image', 'input_file'];
    if (typeof part.type !== 'string' || !allowed.includes(part.type)) {
      throw invalidRequest(
        `Invalid value: '${String(part.type)}'. Supported values are: ${allowed.map((a) => `'${a}'`).join(', ')}.`,
        `${p}.type`,
        'invalid_value',
      );
    }
    const text = part.type === 'refusal' ? part.refusal : part.text;
    if (typeof text !== 'string') throw invalidType(`${p}.text`, 'a string', text);
    return text;
  });
}

/**
 * Turns a request's `input` (or a conversation's `items`) into stored items with ids.
 * Client-supplied ids are kept unless they collide with `takenIds`.
 */
export function normalizeInput(
  input: unknown,
  param: string,
  takenIds: ReadonlySet<string> = new Set(),
): Item[] {
  if (typeof input === 'string') return [userMessage(input)];
  if (!Array.isArray(input)) throw invalidType(param, 'one of a string or array', input);
  const seen = new Set(takenIds);
  return input.map((raw, i) => {
    const item = normalizeItem(raw, `${param}[${i}]`);
    if (seen.has(item.id)) item.id = newId(item.id.split('_')[0] ?? 'item');
    seen.add(item.id);
    return item;
  });
}

function normalizeItem(raw: unknown, param: string): Item {
  if (!isRecord(raw)) throw invalidType(param, 'an object', raw);
  const type = raw.type ?? 'message';
  const givenId = typeof raw.id === 'string' && raw.id.length > 0 ? raw.id : undefined;
  switch (type) {
    case 'message': {
      const role = raw.role;
      if (role === undefined) throw missingParameter(`${param}.role`);
      if (typeof role !== 'string' || !(MESSAGE_ROLES as readonly string[]).includes(role)) {
        throw invalidRequest(
          `Invalid value: '${String(role)}'. Supported values are: 'user', 'system', 'developer' and 'assistant'.`,
          `${param}.role`,
          'invalid_value',
        );
      }
      if (raw.content === undefined) throw missingParameter(`${param}.content`);
      const text = textParts(raw.content, `${param}.content`, role).join('');
      if (role === 'assistant') return assistantMessage(text, givenId ?? newId('msg'));
      return {
        ...userMessage(text, givenId ?? newId('msg')),
        role: role as UserMessageItem['role'],
      };
    }
    case 'function_call': {
      for (const key of ['call_id', 'name', 'arguments'] as const) {
        if (raw[key] === undefined) throw missingParameter(`${param}.${key}`);
        if (typeof raw[key] !== 'string') throw invalidType(`${param}.${key}`, 'a string', raw[key]);
      }
      return {
        type: 'function_call',
        id: givenId ?? newId('fc'),
        call_id: raw.call_id as string,
        name: raw.name as string,
        arguments: raw.arguments as string,
        status: 'completed',
      };
    }
    case 'function_call_output': {
      if (raw.call_id === undefined) throw missingParameter(`${param}.call_id`);
      if (typeof raw.call_id !== 'string') throw invalidType(`${param}.call_id`, 'a string', raw.call_id);
      if (raw.output === undefined) throw missingParameter(`${param}.output`);
      if (typeof raw.output !== 'string' && !Array.isArray(raw.output)) {
        throw invalidType(`${param}.output`, 'one of a string or array', raw.output);
      }
      return {
        type: 'function_call_output',
        id: givenId ?? newId('fco'),
        call_id: raw.call_id,
        output: raw.output as string | unknown[],
        status: 'completed',
      };
    }
    case 'reasoning': {
      // Where it may come from (encrypted_content or a stored response) is checked by the caller.
      if (givenId === undefined) throw missingParameter(`${param}.id`);
      if (raw.summary === undefined) throw missingParameter(`${param}.summary`);
      if (!Array.isArray(raw.summary)) throw invalidType(`${param}.summary`, 'an array', raw.summary);
      const encrypted = raw.encrypted_content;
      if (encrypted !== undefined && encrypted !== null && typeof encrypted !== 'string') {
        throw invalidType(`${param}.encrypted_content`, 'a string', encrypted);
      }
      return {
        type: 'reasoning',
        id: givenId,
        summary: raw.summary as unknown[],
        ...(typeof encrypted === 'string' ? { encrypted_content: encrypted } : {}),
      };
    }
    case 'compaction': {
      if (raw.encrypted_content === undefined) throw missingParameter(`${param}.encrypted_content`);
      if (typeof raw.encrypted_content !== 'string') {
        throw invalidType(`${param}.encrypted_content`, 'a string', raw.encrypted_content);
      }
      const id = givenId ?? newId('cmp');
      if (!unseal(raw.encrypted_content, 'compaction')) throw encryptedContentNotVerified(id);
      return { type: 'compaction', id, encrypted_content: raw.encrypted_content };
    }
    default:
      throw invalidRequest(
        `Invalid value: '${String(type)}'. Supported values are: ${SUPPORTED_TYPES.map((t) => `'${t}'`).join(', ')}. (The emulator supports message, function-call, reasoning and compaction items only.)`,
        `${param}.type`,
        'invalid_value',
      );
  }
}
