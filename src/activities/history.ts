import type { InputItem } from '../agents/types.js';

/**
 * Turning the Postgres transcript back into model input: for expiry recovery, the stateless
 * strategy and seeding a new OpenAI conversation. Pure functions over wire-shaped items.
 */

type Item = Record<string, unknown>;

/** A rough token count (about 4 characters per token, plus per-item overhead): good enough for budgets. */
export function estimateTokens(item: Item): number {
  return Math.ceil(textOf(item).length / 4) + 4;
}

function textOf(item: Item): string {
  switch (item.type) {
    case 'message': {
      const content = item.content;
      if (typeof content === 'string') return content;
      return (Array.isArray(content) ? content : [])
        .map((p: { text?: unknown }) => (typeof p.text === 'string' ? p.text : ''))
        .join('');
    }
    case 'function_call':
      return `${String(item.name)}${String(item.arguments)}`;
    case 'function_call_output':
      return typeof item.output === 'string' ? item.output : JSON.stringify(item.output);
    default:
      return JSON.stringify(item);
  }
}

/**
 * Items the API accepts as fresh input: messages and function calls with their outputs, without the
 * server-side ids of responses that may no longer exist. Reasoning items are dropped (they are only
 * valid next to the response that produced them), and so is any call without its output or output
 * without its call, which the API would reject (`No tool output found for function call ...`).
 */
export function sanitizeForInput(items: readonly Item[]): InputItem[] {
  const calls = new Set(items.filter((i) => i.type === 'function_call').map((i) => i.call_id));
  const outputs = new Set(items.filter((i) => i.type === 'function_call_output').map((i) => i.call_id));
  const result: InputItem[] = [];
  for (const item of items) {
    if (item.type === 'message') {
      result.push({ type: 'message', role: item.role, content: item.content } as InputItem);
    } else if (item.type === 'function_call' && outputs.has(item.call_id)) {
      result.push({
        type: 'function_call',
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
      } as InputItem);
    } else if (item.type === 'function_call_output' && calls.has(item.call_id)) {
      result.push({ type: 'function_call_output', call_id: item.call_id, output: item.output } as InputItem);
    }
  }
  return result;
}

/**
 * The newest items that fit the token budget, oldest first. The last `keepTail` items (the input of
 * the step being sent) are always kept, whatever the budget. The window starts at a message, so it
 * never opens with a tool output whose call was cut off.
 */
export function trimToBudget(items: readonly Item[], budget: number, keepTail = 0): Item[] {
  const tailStart = Math.max(0, items.length - keepTail);
  let used = 0;
  for (let i = items.length - 1; i >= tailStart; i--) used += estimateTokens(items[i]!);
  let start = tailStart;
  while (start > 0) {
    const cost = estimateTokens(items[start - 1]!);
    if (used + cost > budget) break;
    used += cost;
    start -= 1;
  }
  while (start < tailStart && items[start]!.type !== 'message') start += 1;
  return items.slice(start);
}

/** The history as readable text, for recovery through the instructions instead of input items. */
export function historyAsText(items: readonly Item[]): string {
  return items
    .map((item) => {
      if (item.type === 'message') return `${capitalise(String(item.role))}: ${textOf(item)}`;
      if (item.type === 'function_call') return `Tool call ${String(item.name)}(${String(item.arguments)})`;
      if (item.type === 'function_call_output') return `Tool result: ${textOf(item)}`;
      return '';
    })
    .filter(Boolean)
    .join('\n');
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The final text of a response's output items (what `output_text` is in the SDKs). */
export function outputText(items: readonly Item[]): string {
  return items
    .filter((i) => i.type === 'message' && i.role === 'assistant')
    .flatMap((i) => (Array.isArray(i.content) ? (i.content as { type?: string; text?: string }[]) : []))
    .filter((p) => p.type === 'output_text')
    .map((p) => p.text ?? '')
    .join('');
}

/**
 * The output guard's test: a final text that is really a tool call the model wrote out as JSON
 * (`{"name": "book_table", "arguments": {...}}` or a fenced JSON block) instead of calling it.
 */
export function looksLikeRawToolCall(text: string, toolNames: readonly string[]): boolean {
  const trimmed = text
    .trim()
    .replace(/^```(?:json)?\s*/i, '')
    .replace(/\s*```$/, '');
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return false;
  }
  const candidates = Array.isArray(parsed) ? parsed : [parsed];
  return candidates.some((c) => {
    if (!c || typeof c !== 'object') return false;
    const o = c as Record<string, unknown>;
    const fn = o.function;
    const name = [
      o.name,
      o.tool,
      fn,
      fn && typeof fn === 'object' ? (fn as Record<string, unknown>).name : undefined,
    ].find((n) => typeof n === 'string');
    return (
      typeof name === 'string' &&
      (toolNames.includes(name) || 'arguments' in o || 'parameters' in o || o.type === 'function_call')
    );
  });
}
