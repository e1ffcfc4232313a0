import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/**
 * What the console reads of a conversation beyond its transcript: its model calls, and the list
 * filters by failed turns and by cost. Its own emulator, so a fault hits this file's turns only.
 */
let emulator: Emulator;
let env: ApiEnv;
let base: string;
let acme: string;
let globex: string;
beforeAll(async () => {
  emulator = await startEmulator();
  env = await startApiEnv({ openaiBaseUrl: emulator.baseUrl });
  base = await env.start({ agent: 'concierge' });
  [acme, globex] = await Promise.all([env.keyFor('acme'), env.keyFor('globex')]);
});
afterAll(async () => {
  await env?.stop();
  await emulator?.close();
});
beforeEach(() => emulator.faults.clear());

const url = (id: string, rest = '') => `${base}/v1/conversations/web/${id}${rest}`;
async function converse(id: string, text: string) {
  const res = await request('POST', url(id, '/messages?wait=true'), acme, { text });
  expect(res.status).toBe(200);
  return json(res);
}
const ids = (page: { data: { conversationId: string }[] }) => page.data.map((c) => c.conversationId);
const list = async (query: string, key = acme) => {
  const res = await request('GET', `${base}/v1/conversations?limit=100&${query}`, key);
  expect(res.status).toBe(200);
  return json(res);
};

describe('GET .../model-calls', () => {
  it('lists each model step with its response id, usage, cost, strategy and agent, a page at a time', async () => {
    const id = randomUUID();
    await converse(id, 'call check_availability {"date":"2026-12-24","party_size":2}');
    await converse(id, 'thanks');
    const state = await json(await request('GET', url(id), acme));
    const all = await json(await request('GET', url(id, '/model-calls?limit=100'), acme));
    // A tool round is a second step: turn 1 has two calls, turn 2 one.
    expect(all.data.map((c: { turn: number; step: number }) => `${c.turn}.${c.step}`)).toEqual([
      '1.1',
      '1.2',
      '2.1',
    ]);
    const last = all.data.at(-1);
    expect(last).toMatchObject({
      object: 'conversation.model_call',
      agent: 'concierge',
      status: 'completed',
      responseId: state.lastResponseId,
      previousResponseId: all.data[1].responseId,
      strategy: expect.stringMatching(/^openai-responses\//),
      recovery: null,
    });
    expect(last.usage.inputTokens).toBeGreaterThan(0);
    expect(last.usage.outputTokens).toBeGreaterThan(0);
    expect(last.costUsd).toBeGreaterThan(0);
    // The usage route's total is the sum of the listed calls.
    const usage = await json(await request('GET', url(id, '/usage'), acme));
    const sum = all.data.reduce((s: number, c: { costUsd: number }) => s + c.costUsd, 0);
    expect(sum).toBeCloseTo(usage.costUsd, 6);

    const first = await json(await request('GET', url(id, '/model-calls?limit=2'), acme));
    expect(first.data).toEqual(all.data.slice(0, 2));
    expect(first.has_more).toBe(true);
    const second = await json(
      await request('GET', url(id, `/model-calls?limit=2&after=${first.last_id}`), acme),
    );
    expect(second.data).toEqual(all.data.slice(2));
    expect(second.has_more).toBe(false);

    const bad = await request('GET', url(id, '/model-calls?after=resp_1'), acme);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toMatchObject({ param: 'after' });
    // Another tenant's key does not find it.
    expect((await request('GET', url(id, '/model-calls'), globex)).status).toBe(404);
  });
});

describe('GET /v1/conversations filters the console uses', () => {
  it('failedTurns: only conversations with a turn the customer got the apology for', async () => {
    const failed = randomUUID();
    const fine = randomUUID();
    await converse(fine, 'hello');
    emulator.faults.add({ kind: 'quota', match: { bodyIncludes: failed } });
    const reply = await converse(failed, `this turn fails ${failed}`);
    expect(reply.reply.status).toBe('failed');
    const only = await list('failedTurns=true');
    expect(ids(only)).toContain(failed);
    expect(ids(only)).not.toContain(fine);
    expect(only.data.find((c: { conversationId: string }) => c.conversationId === failed).failedTurns).toBe(
      1,
    );
    const none = await list('failedTurns=false');
    expect(ids(none)).toContain(fine);
    expect(ids(none)).not.toContain(failed);
    // Another tenant's failed turns are not in its list.
    expect(ids(await list('failedTurns=true', globex))).not.toContain(failed);
  });

  it('minCostUsd: only conversations whose calls cost at least that much; the summary shows the cost', async () => {
    const cheap = randomUUID();
    const dear = randomUUID();
    await converse(cheap, 'hi');
    await converse(dear, `a much longer message ${'about tables and dinners and dates '.repeat(200)}`);
    const all = await list('');
    const costOf = (id: string) =>
      all.data.find((c: { conversationId: string }) => c.conversationId === id).costUsd as number;
    expect(costOf(dear)).toBeGreaterThan(costOf(cheap));
    const threshold = (costOf(cheap) + costOf(dear)) / 2;
    const filtered = await list(`minCostUsd=${threshold}`);
    expect(ids(filtered)).toContain(dear);
    expect(ids(filtered)).not.toContain(cheap);
    for (const c of filtered.data) expect(c.costUsd).toBeGreaterThanOrEqual(threshold);

    const bad = await request('GET', `${base}/v1/conversations?minCostUsd=cheap`, acme);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toMatchObject({ param: 'minCostUsd' });
    const negative = await request('GET', `${base}/v1/conversations?minCostUsd=-1`, acme);
    expect((await json(negative)).error).toMatchObject({ param: 'minCostUsd' });
  });
});
