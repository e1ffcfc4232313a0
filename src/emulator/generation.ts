import { newId } from './ids.js';
import { assistantMessage, type FunctionCallItem, type Item, type ReasoningItem } from './items.js';
import type { PlannedOutput } from './model.js';
import { seal } from './sealed.js';
import { ITEM_OVERHEAD_TOKENS, itemTokens } from './tokens.js';

/**
 * Turns what the scripted model planned into output items under the live API's constraints: a
 * reasoning model thinks first (a `reasoning` item whose tokens count as output), and
 * `max_output_tokens` caps reasoning and answer together, so a small cap leaves the response
 * `incomplete`, possibly with nothing but the reasoning item.
 */

export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';
export const REASONING_EFFORTS: readonly ReasoningEffort[] = [
  'none',
  'minimal',
  'low',
  'medium',
  'high',
  'xhigh',
];

/** Reasoning cost: a fixed part plus one token per `perInputTokens` of the window. */
export const REASONING_COST: Readonly<Record<ReasoningEffort, { base: number; perInputTokens: number }>> = {
  none: { base: 0, perInputTokens: Infinity },
  minimal: { base: 4, perInputTokens: 4000 },
  low: { base: 16, perInputTokens: 2000 },
  medium: { base: 32, perInputTokens: 1000 },
  high: { base: 64, perInputTokens: 500 },
  xhigh: { base: 128, perInputTokens: 250 },
};

/** `effort: 'none'` means no reasoning item at all; otherwise the table above, unless overridden. */
export function reasoningTokensFor(
  effort: ReasoningEffort,
  inputTokens: number,
  fixed?: number,
): number | null {
  if (effort === 'none') return null;
  if (fixed !== undefined) return fixed;
  const cost = REASONING_COST[effort];
  return cost.base + Math.ceil(inputTokens / cost.perInputTokens);
}

/** A latest user text containing this phrase makes the response stop on the content filter. */
export const CONTENT_FILTER_PHRASE = 'trip the content filter';

export type IncompleteReason = 'max_output_tokens' | 'content_filter';

export interface Generation {
  items: Item[];
  reasoningTokens: number;
  /** Output tokens other than reasoning. */
  answerTokens: number;
  incomplete: IncompleteReason | null;
}

export function generate(args: {
  planned: readonly PlannedOutput[];
  /** null: not a reasoning model (or effort 'none'): no reasoning item. */
  reasoningTokens: number | null;
  includeEncryptedReasoning: boolean;
  maxOutputTokens: number | undefined;
  contentFilter: boolean;
}): Generation {
  let budget = args.maxOutputTokens ?? Infinity;
  const items: Item[] = [];
  let reasoningTokens = 0;
  let answerTokens = 0;
  const done = (incomplete: IncompleteReason | null): Generation => ({
    items,
    reasoningTokens,
    answerTokens,
    incomplete,
  });

  if (args.reasoningTokens !== null) {
    reasoningTokens = Math.min(args.reasoningTokens, budget);
    const id = newId('rs');
    const item: ReasoningItem = { type: 'reasoning', id, summary: [] };
    if (args.includeEncryptedReasoning) {
      item.encrypted_content = seal({ kind: 'reasoning', id, tokens: reasoningTokens });
    }
    items.push(item);
    budget -= reasoningTokens;
    if (reasoningTokens < args.reasoningTokens) return done('max_output_tokens');
  }

  if (args.contentFilter) {
    // The answer stops part-way: the first half of the text, the message marked incomplete.
    const text = args.planned.find((p) => p.kind === 'text');
    if (text?.kind === 'text') {
      const partial = {
        ...assistantMessage(cut(text.text, Math.floor(text.text.length / 2))),
        status: 'incomplete' as const,
      };
      items.push(partial);
      answerTokens += itemTokens(partial);
    }
    return done('content_filter');
  }

  for (const planned of args.planned) {
    const item = toItem(planned);
    const cost = itemTokens(item);
    if (cost <= budget) {
      items.push(item);
      budget -= cost;
      answerTokens += cost;
      continue;
    }
    // Out of tokens: a message is cut where the budget ends; a function call is not emitted.
    if (item.type === 'message' && budget > ITEM_OVERHEAD_TOKENS) {
      const text = item.content[0]?.text ?? '';
      const partial = {
        ...assistantMessage(cut(text, (budget - ITEM_OVERHEAD_TOKENS) * 4), item.id),
        status: 'incomplete' as const,
      };
      items.push(partial);
      answerTokens += itemTokens(partial);
    }
    return done('max_output_tokens');
  }
  return done(null);
}

/** The first `units` UTF-16 units (what the token estimate counts), never half a surrogate pair. */
function cut(text: string, units: number): string {
  const head = text.slice(0, units);
  return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
}

function toItem(planned: PlannedOutput): Item {
  if (planned.kind === 'text') return assistantMessage(planned.text);
  return {
    type: 'function_call',
    id: newId('fc'),
    call_id: newId('call', 12),
    name: planned.name,
    arguments: planned.arguments,
    status: 'completed',
  } satisfies FunctionCallItem;
}
