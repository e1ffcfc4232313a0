import { describe, expect, it } from 'vitest';
import { costOf, priceFor, type UsageLike } from '../../src/usage/cost.js';
import { loadPriceTable, parsePriceTable } from '../../src/usage/prices.js';

const table = parsePriceTable(
  JSON.stringify({
    models: {
      'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
      'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
      'no-cache-model': { input: 1, output: 2 },
      'pinned-2024-01-01': { input: 9, output: 9 },
    },
  }),
);

const usage = (input: number, cached: number, output: number): UsageLike => ({
  input_tokens: input,
  output_tokens: output,
  input_tokens_details: { cached_tokens: cached },
});

describe('costOf', () => {
  it.each<[string, string, UsageLike | undefined, number | null]>([
    ['uncached input and output', 'gpt-5-mini', usage(1_000_000, 0, 1_000_000), 0.25 + 2],
    ['cached input priced separately', 'gpt-5-mini', usage(1_000_000, 400_000, 0), 0.6 * 0.25 + 0.4 * 0.025],
    ['a small call', 'gpt-5', usage(1200, 1000, 300), (200 * 1.25 + 1000 * 0.125 + 300 * 10) / 1e6],
    ['dated snapshot priced as its base model', 'gpt-5-mini-2025-08-07', usage(1_000_000, 0, 0), 0.25],
    ['case and spaces do not matter', ' GPT-5-Mini ', usage(1_000_000, 0, 0), 0.25],
    ['a snapshot the table names itself', 'pinned-2024-01-01', usage(1_000_000, 0, 0), 9],
    ['no cached price: cached tokens priced as input', 'no-cache-model', usage(1_000_000, 500_000, 0), 1],
    ['no usage details at all', 'gpt-5', { input_tokens: 1_000_000, output_tokens: 0 }, 1.25],
    ['null details', 'gpt-5', { input_tokens: 0, output_tokens: 0, input_tokens_details: null }, 0],
    ['zero tokens cost zero for a known model', 'gpt-5', usage(0, 0, 0), 0],
    ['more cached than input is clamped', 'gpt-5', usage(100, 1000, 0), (100 * 0.125) / 1e6],
    ['unknown model: null, never 0', 'gpt-unknown', usage(1000, 0, 1000), null],
    ['no prefix matching: gpt-5-mini-high is unknown', 'gpt-5-mini-high', usage(1000, 0, 0), null],
    ['a date suffix on an unknown model stays unknown', 'gpt-unknown-2025-08-07', usage(1000, 0, 0), null],
    ['no usage: null', 'gpt-5', undefined, null],
    ['negative tokens: null', 'gpt-5', usage(-1, 0, 0), null],
    ['NaN tokens: null', 'gpt-5', usage(Number.NaN, 0, 0), null],
  ])('%s', (_name, model, u, expected) => {
    const cost = costOf(model, u, table);
    if (expected === null) expect(cost).toBeNull();
    else expect(cost).toBeCloseTo(expected, 12);
  });

  it('the shipped config/prices.json loads, and the default table is used without a third argument', () => {
    const shipped = loadPriceTable();
    expect(priceFor('gpt-5-mini-2025-08-07', shipped)).toEqual(priceFor('gpt-5-mini', shipped));
    expect(costOf('gpt-5-mini', usage(1_000_000, 0, 0))).toBe(priceFor('gpt-5-mini', shipped)!.input);
    expect(costOf('not-a-model', usage(1, 0, 1))).toBeNull();
  });

  it('a bad price file names what is wrong and the expected shape', () => {
    expect(() => parsePriceTable('{', 'prices.json')).toThrow(/prices.json is not valid JSON/);
    expect(() => parsePriceTable('{"models":{"m":{"input":-1,"output":1}}}', 'prices.json')).toThrow(
      /prices.json is not a price table at models.m.input: .*Expected/,
    );
    expect(() =>
      parsePriceTable('{"models":{"m":{"input":1,"output":1,"cached":1}}}', 'prices.json'),
    ).toThrow(/models.m/);
  });
});
