import { itemText, type Item } from './items.js';
import { unseal } from './sealed.js';

/** Fixed cost per item, standing in for role/formatting tokens. */
export const ITEM_OVERHEAD_TOKENS = 4;

/** Rough English estimate: one token per four characters, rounded up. */
export const textTokens = (text: string): number => Math.ceil(text.length / 4);

/**
 * Reasoning from earlier responses is dropped from the context (as OpenAI's reasoning guide says),
 * so it costs nothing; a compaction item costs what its payload says it stands for.
 */
export function itemTokens(item: Item): number {
  if (item.type === 'reasoning') return 0;
  if (item.type === 'compaction') {
    return ITEM_OVERHEAD_TOKENS + (unseal(item.encrypted_content, 'compaction')?.tokens ?? 0);
  }
  return ITEM_OVERHEAD_TOKENS + textTokens(itemText(item));
}

export const instructionTokens = (instructions: string | null): number =>
  instructions ? ITEM_OVERHEAD_TOKENS + textTokens(instructions) : 0;

export const itemsTokens = (items: readonly Item[]): number =>
  items.reduce((sum, item) => sum + itemTokens(item), 0);

export interface Usage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/**
 * `priorItems` came from a stored chain or conversation: they count as cached, which is what
 * prompt caching would roughly give for a stable prefix.
 */
export function computeUsage(args: {
  priorItems: readonly Item[];
  newItems: readonly Item[];
  instructions: string | null;
  output: readonly Item[];
}): Usage {
  const cached = itemsTokens(args.priorItems);
  const instructionTokens = args.instructions ? ITEM_OVERHEAD_TOKENS + textTokens(args.instructions) : 0;
  const input = cached + itemsTokens(args.newItems) + instructionTokens;
  const output = itemsTokens(args.output);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached, cache_write_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

export function usageOf(
  inputTokens: number,
  cachedTokens: number,
  outputTokens: number,
  reasoningTokens = 0,
): Usage {
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: cachedTokens, cache_write_tokens: 0 },
    output_tokens: outputTokens + reasoningTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
    total_tokens: inputTokens + outputTokens + reasoningTokens,
  };
}
