import { itemText, type Item } from './items.js';

/** Fixed cost per item, standing in for role/formatting tokens. */
export const ITEM_OVERHEAD_TOKENS = 4;

/** Rough English estimate: one token per four characters, rounded up. */
export const textTokens = (text: string): number => Math.ceil(text.length / 4);

export const itemTokens = (item: Item): number => ITEM_OVERHEAD_TOKENS + textTokens(itemText(item));

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
