import { MemorySession, type AgentInputItem, type Session } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSession } from '../../../src/store/session/postgresSession.js';
import { createTestDatabase, type TestDatabase } from '../../support/env.js';

/**
 * The same scenario against MemorySession (the SDK's reference implementation) and
 * PostgresSession, compared call by call: what MemorySession does is the contract.
 */

const user = (text: string): AgentInputItem => ({ type: 'message', role: 'user', content: text });
const assistant = (text: string, id: string): AgentInputItem => ({
  id,
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text, providerData: { annotations: [], logprobs: [] } }],
  providerData: {},
});
const call = (callId: string): AgentInputItem => ({
  type: 'function_call',
  id: `fc_${callId}`,
  callId,
  name: 'get_weather',
  status: 'completed',
  arguments: '{"city":"Oslo"}',
  providerData: { type: 'function_call', id: `fc_${callId}` },
});
const result = (callId: string): AgentInputItem => ({
  type: 'function_call_result',
  name: 'get_weather',
  callId,
  status: 'completed',
  output: { type: 'text', text: '{"temp":21}' },
});
const reasoning: AgentInputItem = {
  type: 'reasoning',
  id: 'rs_1',
  content: [{ type: 'input_text', text: 'thinking', providerData: { type: 'summary_text' } }],
  providerData: { id: 'rs_1', type: 'reasoning', encrypted_content: 'enc' },
};
const system: AgentInputItem = { type: 'message', role: 'system', content: 'Be brief.' };

type Step = (
  s: Session & Partial<Pick<MemorySession, 'applyHistoryTransaction' | 'applyHistoryMutations'>>,
) => Promise<unknown>;

const scenario: [string, Step][] = [
  ['getItems() on empty', (s) => s.getItems()],
  ['getItems(0) on empty', (s) => s.getItems(0)],
  ['popItem() on empty', (s) => s.popItem()],
  ['addItems([])', (s) => s.addItems([])],
  [
    'addItems(mixed)',
    (s) => s.addItems([system, user('hi'), reasoning, call('c1'), result('c1'), assistant('Sunny', 'msg_1')]),
  ],
  ['getItems()', (s) => s.getItems()],
  ['getItems(undefined)', (s) => s.getItems(undefined)],
  ['getItems(0)', (s) => s.getItems(0)],
  ['getItems(-1)', (s) => s.getItems(-1)],
  ['getItems(1)', (s) => s.getItems(1)],
  ['getItems(3)', (s) => s.getItems(3)],
  ['getItems(100)', (s) => s.getItems(100)],
  ['popItem()', (s) => s.popItem()],
  ['getItems(2) after pop', (s) => s.getItems(2)],
  [
    'addItems one by one',
    async (s) => {
      await s.addItems([user('second')]);
      await s.addItems([assistant('Ok', 'msg_2')]);
    },
  ],
  ['getItems() after adds', (s) => s.getItems()],
  [
    'append transaction',
    (s) =>
      s.applyHistoryTransaction!({
        operationId: 'op-1',
        transaction: { type: 'append_items', items: [user('third')] },
      }),
  ],
  [
    'same append transaction again (idempotent)',
    (s) =>
      s.applyHistoryTransaction!({
        operationId: 'op-1',
        transaction: { type: 'append_items', items: [user('third')] },
      }),
  ],
  [
    'same operation id, different transaction',
    (s) =>
      s.applyHistoryTransaction!({
        operationId: 'op-1',
        transaction: { type: 'append_items', items: [user('other')] },
      }),
  ],
  [
    'replace_suffix with a stale suffix',
    (s) =>
      s.applyHistoryTransaction!({
        operationId: 'op-2',
        transaction: {
          type: 'replace_suffix',
          expectedSuffix: [user('not there')],
          replacement: [user('x')],
        },
      }),
  ],
  [
    'replace_suffix with the actual suffix',
    (s) =>
      s.applyHistoryTransaction!({
        operationId: 'op-3',
        transaction: {
          type: 'replace_suffix',
          expectedSuffix: [assistant('Ok', 'msg_2'), user('third')],
          replacement: [assistant('Better', 'msg_3')],
        },
      }),
  ],
  [
    'replace_suffix longer than history',
    (s) =>
      s.applyHistoryTransaction!({
        operationId: 'op-4',
        transaction: {
          type: 'replace_suffix',
          expectedSuffix: Array.from({ length: 50 }, () => user('x')),
          replacement: [],
        },
      }),
  ],
  [
    'invalid operation id',
    (s) => s.applyHistoryTransaction!({ operationId: ' ', transaction: { type: 'append_items', items: [] } }),
  ],
  ['getItems() after transactions', (s) => s.getItems()],
  [
    'replace a function call',
    (s) =>
      s.applyHistoryMutations!({
        mutations: [
          {
            type: 'replace_function_call',
            callId: 'c1',
            replacement: { ...call('c1'), arguments: '{"city":"Bergen"}' } as never,
          },
        ],
      }),
  ],
  ['getItems() after mutation', (s) => s.getItems()],
  ['clearSession()', (s) => s.clearSession()],
  ['getItems() after clear', (s) => s.getItems()],
  ['popItem() after clear', (s) => s.popItem()],
  ['add after clear', (s) => s.addItems([user('fresh start'), result('c9')])],
  ['getItems() after clear then add', (s) => s.getItems()],
  ['getItems(1) after clear then add', (s) => s.getItems(1)],
  [
    'old operation id is usable again after clear',
    (s) =>
      s.applyHistoryTransaction!({
        operationId: 'op-1',
        transaction: { type: 'append_items', items: [user('again')] },
      }),
  ],
  ['final getItems()', (s) => s.getItems()],
];

async function play(session: Session): Promise<{ step: string; value?: unknown; error?: string }[]> {
  const out: { step: string; value?: unknown; error?: string }[] = [];
  for (const [step, fn] of scenario) {
    try {
      out.push({ step, value: JSON.parse(JSON.stringify((await fn(session)) ?? null)) });
    } catch (err) {
      out.push({ step, error: `${(err as Error).name}: ${(err as Error).message}` });
    }
  }
  return out;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('PostgresSession against MemorySession (the contract)', () => {
  it('gives the same result for every call of the scenario', async () => {
    const expected = await play(new MemorySession({ sessionId: 's-contract' }));
    const actual = await play(
      await PostgresSession.open(db.pool, { sessionId: 's-contract', tenant: 't', userId: 'u' }),
    );
    for (let i = 0; i < expected.length; i++) {
      expect(actual[i]).toStrictEqual(expected[i]);
    }
    // The scenario exercises what it claims: errors where MemorySession raises them.
    expect(expected.filter((e) => e.error).map((e) => e.step)).toEqual([
      'same operation id, different transaction',
      'replace_suffix with a stale suffix',
      'replace_suffix longer than history',
      'invalid operation id',
    ]);
  });
});
