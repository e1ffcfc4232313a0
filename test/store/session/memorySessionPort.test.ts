import type { AgentInputItem, SessionHistoryTransactionArgs } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSession } from '../../../src/store/session/postgresSession.js';
import { createTestDatabase, type TestDatabase } from '../../support/env.js';

/**
 * The SDK's own MemorySession tests (openai-agents-js, packages/agents-core/test/memorySession.test.ts),
 * the same cases and expectations, run against PostgresSession. Not ported: the two logger tests
 * (MemorySession logs item contents at debug unless told not to; PostgresSession logs no items).
 */

const userMessage = (text: string): AgentInputItem => ({
  role: 'user',
  content: [{ type: 'input_text', text }],
});

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

let n = 0;
/** A fresh session holding `initialItems`, as MemorySession's constructor option does. */
async function session(initialItems: AgentInputItem[] = []): Promise<PostgresSession> {
  const s = await PostgresSession.open(db.pool, { sessionId: `port-${++n}`, tenant: 't', userId: 'u' });
  await s.addItems(initialItems);
  return s;
}

async function operationCount(s: PostgresSession): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM session_operations WHERE session_id = $1',
    [await s.getSessionId()],
  );
  return Number(rows[0]!.n);
}

describe('PostgresSession passes the SDK MemorySession tests', () => {
  it('stores and retrieves items', async () => {
    const initialItems = [userMessage('hello')];
    const s = await session(initialItems);
    expect(await s.getItems()).toEqual(initialItems);

    const newItems = [userMessage('one'), userMessage('two')];
    await s.addItems(newItems);
    expect(await s.getItems()).toEqual([...initialItems, ...newItems]);
    expect(await s.getItems(2)).toEqual(newItems);

    expect(await s.popItem()).toEqual(newItems[1]);
    expect(await s.getItems()).toEqual([...initialItems, newItems[0]]);

    await s.clearSession();
    expect(await s.getItems()).toEqual([]);
    expect(await s.getItems(3)).toEqual([]);
    expect(await s.popItem()).toBeUndefined();
  });

  it('returns copies: changing what was given or returned changes nothing stored', async () => {
    const s = await session([userMessage('start')]);
    const items = await s.getItems();
    (items[0] as { content: unknown }).content = 'mutated';
    expect(await s.getItems()).toEqual([userMessage('start')]);

    const next = userMessage('next');
    await s.addItems([next]);
    (next as { content: unknown }).content = 'mutated';
    expect(await s.getItems()).toEqual([userMessage('start'), userMessage('next')]);

    const popped = await s.popItem();
    expect(popped).toEqual(userMessage('next'));
    (popped as { content: unknown }).content = 'mutated';
    expect(await s.getItems()).toEqual([userMessage('start')]);
  });

  it('applies history mutations: the first call with the id is replaced, duplicates dropped', async () => {
    const s = await session([
      userMessage('start'),
      {
        type: 'function_call',
        id: 'call-old-1',
        callId: 'call-1',
        name: 'lookup',
        status: 'completed',
        arguments: '{"ok":false}',
      },
      {
        type: 'function_call',
        id: 'call-old-2',
        callId: 'call-1',
        name: 'lookup',
        status: 'completed',
        arguments: '{"duplicate":true}',
      },
    ]);
    const replacement = {
      type: 'function_call',
      id: 'call-new',
      callId: 'call-1',
      name: 'lookup',
      status: 'completed',
      arguments: '{"ok":true}',
    } satisfies AgentInputItem;
    await s.applyHistoryMutations({
      mutations: [{ type: 'replace_function_call', callId: 'call-1', replacement }],
    });
    expect(await s.getItems()).toEqual([userMessage('start'), replacement]);
  });

  it('applies an append transaction once per operation id', async () => {
    const s = await session([userMessage('start')]);
    const appended = userMessage('committed');
    await s.applyHistoryTransaction({
      operationId: 'append-1',
      transaction: { type: 'append_items', items: [appended] },
    });
    (appended as { content: unknown }).content = 'mutated';
    await s.addItems([userMessage('later')]);
    await s.applyHistoryTransaction({
      operationId: 'append-1',
      transaction: { type: 'append_items', items: [userMessage('committed')] },
    });
    expect(await s.getItems()).toEqual([
      userMessage('start'),
      userMessage('committed'),
      userMessage('later'),
    ]);
  });

  it('replaces an exact suffix once per operation id', async () => {
    const prefix = userMessage('start');
    const expected = userMessage('blocked');
    const replacement = userMessage('accepted');
    const s = await session([prefix, expected]);
    const args: SessionHistoryTransactionArgs = {
      operationId: 'replace-1',
      transaction: { type: 'replace_suffix', expectedSuffix: [expected], replacement: [replacement] },
    };
    await s.applyHistoryTransaction(args);
    await s.addItems([userMessage('later')]);
    await s.applyHistoryTransaction(args);
    expect(await s.getItems()).toEqual([prefix, replacement, userMessage('later')]);
  });

  it('a suffix mismatch records no operation: the id works again with the right suffix', async () => {
    const start = userMessage('start');
    const s = await session([start]);
    await expect(
      s.applyHistoryTransaction({
        operationId: 'replace-after-conflict',
        transaction: {
          type: 'replace_suffix',
          expectedSuffix: [userMessage('different')],
          replacement: [userMessage('accepted')],
        },
      }),
    ).rejects.toThrow('suffix no longer matches');
    expect(await s.getItems()).toEqual([start]);

    await s.applyHistoryTransaction({
      operationId: 'replace-after-conflict',
      transaction: {
        type: 'replace_suffix',
        expectedSuffix: [start],
        replacement: [userMessage('accepted')],
      },
    });
    expect(await s.getItems()).toEqual([userMessage('accepted')]);
  });

  it('rejects an operation id reused with other content', async () => {
    const s = await session();
    await s.applyHistoryTransaction({
      operationId: 'conflict',
      transaction: { type: 'append_items', items: [userMessage('first')] },
    });
    await expect(
      s.applyHistoryTransaction({
        operationId: 'conflict',
        transaction: { type: 'append_items', items: [userMessage('second')] },
      }),
    ).rejects.toThrow('already applied with a different transaction');
    expect(await s.getItems()).toEqual([userMessage('first')]);
  });

  it('records an empty append', async () => {
    const s = await session();
    await s.applyHistoryTransaction({
      operationId: 'empty',
      transaction: { type: 'append_items', items: [] },
    });
    await expect(
      s.applyHistoryTransaction({
        operationId: 'empty',
        transaction: { type: 'append_items', items: [userMessage('unexpected')] },
      }),
    ).rejects.toThrow('already applied with a different transaction');
    expect(await s.getItems()).toEqual([]);
  });

  it('forgets operation ids when the session is cleared', async () => {
    const s = await session();
    const args: SessionHistoryTransactionArgs = {
      operationId: 'after-reset',
      transaction: { type: 'append_items', items: [userMessage('committed')] },
    };
    await s.applyHistoryTransaction(args);
    await s.clearSession();
    await s.applyHistoryTransaction(args);
    expect(await s.getItems()).toEqual([userMessage('committed')]);
  });

  it('rejects invalid transaction input and changes nothing', async () => {
    const start = userMessage('start');
    const s = await session([start]);
    await expect(
      s.applyHistoryTransaction({ operationId: '   ', transaction: { type: 'append_items', items: [] } }),
    ).rejects.toThrow('operationId must be a non-empty string');
    await expect(
      s.applyHistoryTransaction({ operationId: 'unknown', transaction: { type: 'unknown' } as never }),
    ).rejects.toThrow('Unsupported session history transaction type');
    await expect(
      s.applyHistoryTransaction({ operationId: 'missing', transaction: null as never }),
    ).rejects.toThrow('transaction must be an object');
    await expect(
      s.applyHistoryTransaction({
        operationId: 'invalid-item',
        transaction: { type: 'append_items', items: [42] } as never,
      }),
    ).rejects.toThrow('items contain invalid or unsupported data');
    expect(await s.getItems()).toEqual([start]);
    expect(await operationCount(s)).toBe(0);
  });

  it('rejects values it cannot store as given (Date, cycle, bigint, sparse array) and changes nothing', async () => {
    const start = userMessage('start');
    const s = await session([start]);
    const withDate = userMessage('date');
    withDate.providerData = { timestamp: new Date(0) };
    const withCycle = userMessage('cyclic');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    withCycle.providerData = cycle;
    const withBigInt = userMessage('bigint');
    withBigInt.providerData = { value: 42n };
    const sparse = new Array<AgentInputItem>(1);

    const cases: [string, AgentInputItem[]][] = [
      ['date', [withDate]],
      ['cycle', [withCycle]],
      ['bigint', [withBigInt]],
      ['sparse', sparse],
    ];
    for (const [operationId, items] of cases) {
      await expect(
        s.applyHistoryTransaction({ operationId, transaction: { type: 'append_items', items } }),
      ).rejects.toThrow('items contain invalid or unsupported data');
    }
    expect(await s.getItems()).toEqual([start]);
    expect(await operationCount(s)).toBe(0);
  });

  it('rejects a non-enumerable property and records no operation', async () => {
    const start = userMessage('start');
    const s = await session([start]);
    const item = userMessage('hidden');
    Object.defineProperty(item, 'providerData', { enumerable: false, value: { hidden: true } });
    await expect(
      s.applyHistoryTransaction({
        operationId: 'non-enumerable',
        transaction: { type: 'append_items', items: [item] },
      }),
    ).rejects.toThrow('items contain invalid or unsupported data');
    expect(await s.getItems()).toEqual([start]);

    const retry = userMessage('retry');
    await s.applyHistoryTransaction({
      operationId: 'non-enumerable',
      transaction: { type: 'append_items', items: [retry] },
    });
    expect(await s.getItems()).toEqual([start, retry]);
  });

  it('rejects extra transaction fields and records no operation', async () => {
    const start = userMessage('start');
    const s = await session([start]);
    await expect(
      s.applyHistoryTransaction({
        operationId: 'extra-append-field',
        transaction: {
          type: 'append_items',
          items: [userMessage('extra')],
          metadata: { attempt: 1 },
        } as never,
      }),
    ).rejects.toThrow('append transaction fields are invalid');
    await expect(
      s.applyHistoryTransaction({
        operationId: 'extra-suffix-field',
        transaction: {
          type: 'replace_suffix',
          expectedSuffix: [start],
          replacement: [userMessage('extra')],
          metadata: { attempt: 1 },
        } as never,
      }),
    ).rejects.toThrow('suffix transaction fields are invalid');
    expect(await s.getItems()).toEqual([start]);

    const retry = userMessage('retry');
    await s.applyHistoryTransaction({
      operationId: 'extra-append-field',
      transaction: { type: 'append_items', items: [retry] },
    });
    expect(await s.getItems()).toEqual([start, retry]);
  });

  it('an unsupported value fails with the fixed message, not with what it holds', async () => {
    const s = await session();
    const item = userMessage('symbol');
    item.providerData = { secret: Symbol('api-key-secret') };
    const error = await s
      .applyHistoryTransaction({
        operationId: 'sensitive',
        transaction: { type: 'append_items', items: [item] },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      'Session history transaction items contain invalid or unsupported data.',
    );
    expect(await s.getItems()).toEqual([]);
  });

  it('copies bytes when applied: changing a shared buffer later changes nothing stored', async () => {
    const s = await session();
    const shared = new Uint8Array(new SharedArrayBuffer(2));
    shared.set([3, 7]);
    const item = userMessage('binary');
    item.providerData = { bytes: shared };
    await s.applyHistoryTransaction({
      operationId: 'shared-binary',
      transaction: { type: 'append_items', items: [item] },
    });
    shared[0] = 9;

    const retry = userMessage('binary');
    retry.providerData = { bytes: new Uint8Array([3, 7]) };
    await s.applyHistoryTransaction({
      operationId: 'shared-binary',
      transaction: { type: 'append_items', items: [retry] },
    });
    const [stored] = await s.getItems();
    expect((stored!.providerData?.bytes as Uint8Array)[0]).toBe(3);
  });

  it('treats a null-prototype object as the plain object it reads back as', async () => {
    const s = await session();
    const appended = userMessage('canonical');
    appended.providerData = Object.assign(Object.create(null) as object, { source: 'provider' });
    await s.applyHistoryTransaction({
      operationId: 'canonical-append',
      transaction: { type: 'append_items', items: [appended] },
    });
    const [roundTripped] = await s.getItems();
    await s.applyHistoryTransaction({
      operationId: 'canonical-append',
      transaction: { type: 'append_items', items: [roundTripped!] },
    });
    await s.applyHistoryTransaction({
      operationId: 'canonical-replace',
      transaction: {
        type: 'replace_suffix',
        expectedSuffix: [appended],
        replacement: [userMessage('replaced')],
      },
    });
    expect(await s.getItems()).toEqual([userMessage('replaced')]);
  });

  it('rejects values structuredClone refuses (a Uint16Array, a Proxy) and records no operation', async () => {
    const s = await session();
    const typed = userMessage('typed-array');
    typed.providerData = { values: new Uint16Array([300]) };
    const proxied = new Proxy([userMessage('proxied')], {});
    for (const items of [[typed], proxied]) {
      await expect(
        s.applyHistoryTransaction({
          operationId: 'rejected-clone',
          transaction: { type: 'append_items', items },
        }),
      ).rejects.toThrow('items contain invalid or unsupported data');
    }
    await s.applyHistoryTransaction({
      operationId: 'rejected-clone',
      transaction: { type: 'append_items', items: [userMessage('accepted-after-rejections')] },
    });
    expect(await s.getItems()).toEqual([userMessage('accepted-after-rejections')]);
  });

  it('reads the arguments once, and a throwing getter fails without its own message', async () => {
    const s = await session();
    let reads = 0;
    const args = {
      transaction: { type: 'append_items' as const, items: [userMessage('once')] },
    } as SessionHistoryTransactionArgs;
    Object.defineProperty(args, 'operationId', {
      enumerable: true,
      get: () => (++reads === 1 ? 'read-once' : 'changed'),
    });
    await s.applyHistoryTransaction(args);
    expect(reads).toBe(1);
    reads = 0;
    await s.applyHistoryTransaction(args);
    expect(reads).toBe(1);
    expect(await s.getItems()).toEqual([userMessage('once')]);

    const throwing = {} as SessionHistoryTransactionArgs;
    Object.defineProperty(throwing, 'operationId', {
      get: () => {
        throw new Error('api-key-secret');
      },
    });
    const error = await s.applyHistoryTransaction(throwing).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toBe('Session history transaction arguments are invalid.');
    expect(await s.getItems()).toEqual([userMessage('once')]);
  });
});
