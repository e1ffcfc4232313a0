import { loadPriceTable, type ModelPrice, type PriceTable } from './prices.js';

/**
 * The USD cost of one model call from its usage and the price table. Pure: the table is an
 * argument (the default is config/prices.json, read once).
 *
 * - An unknown model, or a call without usage, has an unknown cost: null, never 0, so that sums
 *   never look cheaper than they were.
 * - Cached input tokens are part of `input_tokens` and are priced at the cached rate; reasoning
 *   tokens are part of `output_tokens` and are priced as output.
 * - A dated snapshot (`gpt-5-mini-2025-08-07`) is priced as its base model (`gpt-5-mini`), unless
 *   the table names the snapshot itself. Never by prefix: `gpt-5-mini` is not `gpt-5`.
 */

/** The part of a Responses API usage block that prices depend on. */
export interface UsageLike {
  input_tokens: number;
  output_tokens: number;
  input_tokens_details?: { cached_tokens?: number | null } | null;
}

const DATE_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

export function priceFor(model: string, table: PriceTable): ModelPrice | null {
  const name = model.trim().toLowerCase();
  return table.get(name) ?? table.get(name.replace(DATE_SUFFIX, '')) ?? null;
}

export function costOf(
  model: string,
  usage: UsageLike | null | undefined,
  table: PriceTable = defaultTable(),
): number | null {
  const price = priceFor(model, table);
  if (!price || !usage) return null;
  const input = usage.input_tokens;
  const output = usage.output_tokens;
  const cachedRaw = usage.input_tokens_details?.cached_tokens ?? 0;
  if (![input, output, cachedRaw].every((n) => Number.isFinite(n) && n >= 0)) return null;
  // A provider reporting more cached than input tokens would otherwise make a negative charge.
  const cached = Math.min(cachedRaw, input);
  const perToken = (usdPerMillion: number) => usdPerMillion / 1_000_000;
  return (
    (input - cached) * perToken(price.input) +
    cached * perToken(price.cachedInput ?? price.input) +
    output * perToken(price.output)
  );
}

let cached: PriceTable | undefined;
function defaultTable(): PriceTable {
  cached ??= loadPriceTable();
  return cached;
}
