import type { InputItem } from '../agents/types.js';

/**
 * Turning the Postgres transcript back into model input: for expiry recovery, the stateless
 * strategy and seeding a new OpenAI conversation. Pure functions over wire-shaped items.
 */

type Item = Record<string, unknown>;

/** A rough token count (about 4 characters per token, plus per-item overhead): good enough for budgets. */
export function estimateTokens(item: Item): number {
  return Math.ceil(textOf(item).length / 4) + 4 + MEDIA_PART_TOKENS * mediaParts(item);
}

/**
 * A budget's guess for one image or file part (a 1024x1024 image at `detail: auto` is several
 * hundred tokens; a PDF page more): media must not slip into a re-sent window as if it were free.
 */
export const MEDIA_PART_TOKENS = 1_000;

function mediaParts(item: Item): number {
  if (item.type !== 'message' || !Array.isArray(item.content)) return 0;
  return (item.content as { type?: unknown }[]).filter(
    (p) => p.type === 'input_image' || p.type === 'input_file',
  ).length;
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
    case 'reasoning':
      // The API drops reasoning of earlier responses from the context: its (large) encrypted
      // content costs no context window, so it must not crowd messages out of the budget.
      return '';
    default:
      return JSON.stringify(item);
  }
}

/** What kept reasoning items need: they are only valid back on the model family that wrote them. */
export interface InputOptions {
  /** Keep reasoning items that carry `encrypted_content` (a reasoning model, `include` requested). */
  reasoning?: boolean;
}

/**
 * Items the API accepts as fresh input, in the shapes of the spec's input item schemas: messages
 * (an assistant's as text: `EasyInputMessage` content is a string or input parts, and an
 * `OutputMessage` needs the id and status of a response that may no longer exist), function calls
 * with their outputs, and, with `reasoning`, reasoning items with their encrypted content right
 * before the call or message they led to. Any call without its output or output without its call
 * is dropped, as the API would reject it (`No tool output found for function call ...`); so is a
 * reasoning item without the item it belongs to.
 */
export function sanitizeForInput(items: readonly Item[], options: InputOptions = {}): InputItem[] {
  const calls = new Set(items.filter((i) => i.type === 'function_call').map((i) => i.call_id));
  const outputs = new Set(items.filter((i) => i.type === 'function_call_output').map((i) => i.call_id));
  const converted = items.map((item): Item | null => {
    if (item.type === 'message') {
      return item.role === 'assistant'
        ? { type: 'message', role: 'assistant', content: textOf(item) }
        : { type: 'message', role: item.role, content: item.content };
    }
    if (item.type === 'function_call' && outputs.has(item.call_id))
      return { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments };
    if (item.type === 'function_call_output' && calls.has(item.call_id))
      return { type: 'function_call_output', call_id: item.call_id, output: item.output };
    return null;
  });
  const result: InputItem[] = [];
  items.forEach((item, i) => {
    const kept = converted[i];
    if (kept) {
      result.push(kept as unknown as InputItem);
      return;
    }
    if (!options.reasoning || item.type !== 'reasoning' || typeof item.encrypted_content !== 'string') return;
    const next = converted[i + 1];
    const belongs =
      next && (next.type === 'function_call' || (next.type === 'message' && next.role === 'assistant'));
    if (belongs)
      result.push({
        type: 'reasoning',
        id: item.id,
        summary: Array.isArray(item.summary) ? item.summary : [],
        encrypted_content: item.encrypted_content,
      } as unknown as InputItem);
  });
  return result;
}

/**
 * Where the last `keepTail` items (a step's new input) begin, moved back to the first function call
 * whose output is among them, so that cutting there never parts a call from its output.
 */
export function stepInputStart(items: readonly Item[], keepTail: number): number {
  let start = Math.max(0, items.length - keepTail);
  const answered = new Set(
    items
      .slice(start)
      .filter((i) => i.type === 'function_call_output')
      .map((i) => i.call_id),
  );
  for (let i = start - 1; i >= 0 && answered.size > 0; i--) {
    if (items[i]!.type === 'function_call' && answered.has(items[i]!.call_id)) start = i;
  }
  return start;
}

/**
 * A window split into what came before the step and the step itself (its new items with the calls
 * they answer), both as input. For the instructions-mode recovery and a recreated conversation's seed.
 */
export function splitAtStep(
  window: readonly Item[],
  newItems: number,
  options: InputOptions = {},
): { earlier: InputItem[]; current: InputItem[] } {
  const start = stepInputStart(window, newItems);
  return {
    earlier: sanitizeForInput(window.slice(0, start), options),
    current: sanitizeForInput(window.slice(start), options),
  };
}

/**
 * The newest items that fit the token budget, oldest first. The last `keepTail` items (the input of
 * the step being sent) and the function calls they answer are always kept, whatever the budget. The
 * window starts at a message, so it never opens with a tool output whose call was cut off.
 */
export function trimToBudget(items: readonly Item[], budget: number, keepTail = 0): Item[] {
  const tailStart = stepInputStart(items, keepTail);
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
