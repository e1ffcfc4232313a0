import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * The price table: config/prices.json, USD per million tokens per model. Read and validated once;
 * a bad file stops the caller with a message naming the file and the fix.
 */

const price = z.number().finite().nonnegative();

const ModelPrice = z.strictObject({
  input: price,
  cachedInput: price.optional(),
  output: price,
});
export type ModelPrice = z.infer<typeof ModelPrice>;

const PriceFile = z.object({
  models: z.record(z.string().min(1), ModelPrice),
});

export type PriceTable = ReadonlyMap<string, ModelPrice>;

export const DEFAULT_PRICES_FILE = fileURLToPath(new URL('../../config/prices.json', import.meta.url));

/** Parses the JSON text of a price file. Model names are matched case-insensitively. */
export function parsePriceTable(json: string, source = 'the price file'): PriceTable {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new Error(`${source} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = PriceFile.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(
      `${source} is not a price table at ${issue.path.join('.') || '(root)'}: ${issue.message}. Expected ` +
        '{"models": {"<model>": {"input": <USD per 1M>, "cachedInput"?: <USD per 1M>, "output": <USD per 1M>}}}.',
    );
  }
  return new Map(Object.entries(parsed.data.models).map(([model, p]) => [model.toLowerCase(), p]));
}

export function loadPriceTable(file = DEFAULT_PRICES_FILE): PriceTable {
  return parsePriceTable(readFileSync(file, 'utf8'), file);
}
