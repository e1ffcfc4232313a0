import { newId } from './ids.js';
import { isUserMessage, type CompactionItem, type Item } from './items.js';
import { seal } from './sealed.js';
import { itemsTokens } from './tokens.js';

/**
 * Compaction, as the emulator models it: a compaction item stands for everything before it in the
 * context except the user messages, which stay verbatim (what `/v1/responses/compact` returns:
 * the user messages, then the compaction item). The model still "remembers" what was compacted:
 * the scripted model reads the whole logical context, and only the window is measured on what
 * remains. The item costs a tenth of the tokens it replaced, rounded up, plus the item overhead.
 */
export const COMPACTION_RATIO = 10;

/** What the model's window holds: items before the latest compaction item, less the compacted ones. */
export function windowOf(context: readonly Item[]): Item[] {
  let latest = -1;
  context.forEach((item, i) => {
    if (item.type === 'compaction') latest = i;
  });
  if (latest < 0) return [...context];
  return [...context.slice(0, latest).filter(isUserMessage), ...context.slice(latest)];
}

/** A compaction item for the window: it replaces every item that is not a user message. */
export function compact(window: readonly Item[]): CompactionItem {
  const summarizedTokens = itemsTokens(window.filter((i) => !isUserMessage(i)));
  return {
    type: 'compaction',
    id: newId('cmp'),
    encrypted_content: seal({
      kind: 'compaction',
      tokens: Math.ceil(summarizedTokens / COMPACTION_RATIO),
      summarizedTokens,
    }),
  };
}

/**
 * The `compact_threshold` used when `context_management` names none. OpenAI does not document its
 * default; the emulator's choice is 80% of the model's context window.
 */
export const defaultCompactThreshold = (contextWindowTokens: number): number =>
  Math.max(1000, Math.floor(contextWindowTokens * 0.8));
