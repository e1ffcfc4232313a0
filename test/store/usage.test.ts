import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationUsage, tenantUsage } from '../../src/store/usage.js';
import { costOf } from '../../src/usage/cost.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';

let db: TestDatabase;

async function call(
  conversation: string,
  step: number,
  model: string,
  tokens: [input: number, cached: number, output: number, reasoning: number],
  createdAt = '2026-01-15T12:00:00Z',
): Promise<void> {
  const [input, cached, output, reasoning] = tokens;
  const cost = costOf(model, {
    input_tokens: input,
    output_tokens: output,
    input_tokens_details: { cached_tokens: cached },
  });
  await db.pool.query(
    `INSERT INTO model_calls (conversation_id, turn, step, model, status, input_tokens, cached_input_tokens,
                              output_tokens, reasoning_tokens, cost_usd, created_at)
     VALUES ($1, 1, $2, $3, 'completed', $4, $5, $6, $7, $8, $9)`,
    [conversation, step, model, input, cached, output, reasoning, cost, createdAt],
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  for (const [id, tenant] of [
    ['conversation:acme:web:1', 'acme'],
    ['conversation:acme:web:2', 'acme'],
    ['conversation:other:web:1', 'other'],
  ]) {
    await db.pool.query(
      "INSERT INTO conversations (id, tenant, channel, external_id, agent) VALUES ($1, $2, 'web', $1, 'concierge')",
      [id, tenant],
    );
  }
  await call('conversation:acme:web:1', 0, 'gpt-5-mini', [1_000_000, 200_000, 100_000, 50_000]);
  await call('conversation:acme:web:1', 1, 'gpt-5-mini-2025-08-07', [500_000, 0, 0, 0]);
  await call('conversation:acme:web:2', 0, 'gpt-5', [1000, 0, 1000, 0], '2026-02-01T00:00:00Z');
  await call('conversation:acme:web:2', 1, 'mystery-model', [10, 0, 10, 0], '2026-02-01T00:00:00Z');
  await call('conversation:other:web:1', 0, 'gpt-5', [1_000_000, 0, 1_000_000, 0]);
});
afterAll(async () => {
  await db.drop();
});

describe('usage aggregates from model_calls', () => {
  it('per conversation: tokens summed, cost of priced calls, unpriced calls counted', async () => {
    expect(await conversationUsage(db.pool, 'conversation:acme:web:1')).toEqual({
      calls: 2,
      inputTokens: 1_500_000,
      cachedInputTokens: 200_000,
      outputTokens: 100_000,
      reasoningTokens: 50_000,
      costUsd: 0.8 * 0.25 + 0.2 * 0.025 + 0.1 * 2 + 0.5 * 0.25,
      unpricedCalls: 0,
    });
    expect(await conversationUsage(db.pool, 'conversation:acme:web:2')).toMatchObject({
      calls: 2,
      costUsd: 0.00125 + 0.01,
      unpricedCalls: 1,
    });
    expect(await conversationUsage(db.pool, 'conversation:none')).toEqual({
      calls: 0,
      inputTokens: 0,
      cachedInputTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
      costUsd: 0,
      unpricedCalls: 0,
    });
  });

  it('per tenant: only its conversations, with a per-model breakdown and an optional time window', async () => {
    const acme = await tenantUsage(db.pool, 'acme');
    expect(acme).toMatchObject({ tenant: 'acme', calls: 4, inputTokens: 1_501_010, unpricedCalls: 1 });
    expect(acme.costUsd).toBeCloseTo(0.53 + 0.01125, 6);
    expect(acme.byModel.map((m) => [m.model, m.calls])).toEqual([
      ['gpt-5', 1],
      ['gpt-5-mini', 1],
      ['gpt-5-mini-2025-08-07', 1],
      ['mystery-model', 1],
    ]);
    const february = await tenantUsage(db.pool, 'acme', { from: new Date('2026-02-01T00:00:00Z') });
    expect(february).toMatchObject({ calls: 2, unpricedCalls: 1, costUsd: 0.01125 });
    const january = await tenantUsage(db.pool, 'acme', { to: new Date('2026-02-01T00:00:00Z') });
    expect(january.calls).toBe(2);
    expect((await tenantUsage(db.pool, 'other')).costUsd).toBe(11.25);
    expect(await tenantUsage(db.pool, 'nobody')).toMatchObject({ calls: 0, costUsd: 0, byModel: [] });
  });
});
