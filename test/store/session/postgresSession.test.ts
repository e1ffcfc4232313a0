import type { AgentInputItem } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, withTransaction, type Pool } from '../../../src/store/pool.js';
import { PostgresSession, SessionAccessError } from '../../../src/store/session/postgresSession.js';
import { appendItems } from '../../../src/store/transcript.js';
import { createTestDatabase, type TestDatabase } from '../../support/env.js';

const user = (text: string): AgentInputItem => ({ type: 'message', role: 'user', content: text });

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

async function seqs(pool: Pool, sessionId: string): Promise<number[]> {
  const { rows } = await pool.query<{ seq: string }>(
    'SELECT seq FROM session_items WHERE session_id = $1 ORDER BY seq',
    [sessionId],
  );
  return rows.map((r) => Number(r.seq));
}

describe('PostgresSession', () => {
  it('concurrent addItems from several clients: gapless, ordered within each batch, nothing lost or doubled', async () => {
    const pools = [createPool(db.url, 4), createPool(db.url, 4), createPool(db.url, 4)];
    try {
      const sessions = await Promise.all(
        pools.map((p) => PostgresSession.open(p, { sessionId: 's-concurrent', tenant: 't', userId: 'u' })),
      );
      // 3 clients x 10 writers x 5 batches of 3 items.
      await Promise.all(
        sessions.flatMap((s, c) =>
          Array.from({ length: 10 }, async (_, w) => {
            for (let b = 0; b < 5; b++) {
              await s.addItems([0, 1, 2].map((i) => user(`c${c}-w${w}-b${b}-i${i}`)));
            }
          }),
        ),
      );
      const items = await sessions[0]!.getItems();
      const texts = items.map((i) => (i as { content: string }).content);
      expect(texts).toHaveLength(450);
      expect(new Set(texts).size).toBe(450);
      expect(await seqs(db.pool, 's-concurrent')).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
      // Each batch is contiguous and in order: atomic appends.
      for (let i = 0; i < texts.length; i += 3) {
        const prefix = texts[i]!.replace(/-i0$/, '');
        expect(texts.slice(i, i + 3)).toEqual([`${prefix}-i0`, `${prefix}-i1`, `${prefix}-i2`]);
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('is scoped to tenant and user: another tenant or user cannot open it', async () => {
    const own = await PostgresSession.open(db.pool, { sessionId: 's-scoped', tenant: 'acme', userId: 'ann' });
    await own.addItems([user('secret')]);
    await expect(
      PostgresSession.open(db.pool, { sessionId: 's-scoped', tenant: 'evil', userId: 'ann' }),
    ).rejects.toThrow(SessionAccessError);
    await expect(
      PostgresSession.open(db.pool, { sessionId: 's-scoped', tenant: 'acme', userId: 'bob' }),
    ).rejects.toThrow(/does not belong to tenant 'acme' and user 'bob'/);
    // Another tenant's conversation transcript is off-limits too.
    await db.pool.query(
      "INSERT INTO conversations (id, tenant, channel, external_id, agent) VALUES ('conversation:acme:web:1', 'acme', 'web', '1', 'concierge')",
    );
    await expect(
      PostgresSession.open(db.pool, { sessionId: 'conversation:acme:web:1', tenant: 'evil', userId: 'x' }),
    ).rejects.toThrow(SessionAccessError);
    expect(
      await (
        await PostgresSession.open(db.pool, { sessionId: 's-scoped', tenant: 'acme', userId: 'ann' })
      ).getItems(),
    ).toEqual([user('secret')]);
  });

  it('metadata can be set, updated and listed per user', async () => {
    const a = await PostgresSession.open(db.pool, {
      tenant: 'meta',
      userId: 'ann',
      name: 'Trip',
      agentName: 'concierge',
      agentInstructions: 'Be helpful.',
      metadata: { channel: 'web' },
    });
    expect(await a.getSessionId()).toMatch(/^sess_[0-9a-f]{32}$/);
    const b = await PostgresSession.open(db.pool, { sessionId: 'meta-b', tenant: 'meta', userId: 'ann' });
    await PostgresSession.open(db.pool, { sessionId: 'meta-c', tenant: 'meta', userId: 'bob' });
    const updated = await b.update({
      name: 'Renamed',
      description: 'desc',
      active: false,
      metadata: { x: 1 },
    });
    expect(updated).toMatchObject({
      id: 'meta-b',
      name: 'Renamed',
      description: 'desc',
      active: false,
      metadata: { x: 1 },
    });
    expect(await a.info()).toMatchObject({
      name: 'Trip',
      agentName: 'concierge',
      agentInstructions: 'Be helpful.',
      active: true,
    });
    // Opening an existing session does not overwrite what it was created with.
    await PostgresSession.open(db.pool, {
      sessionId: 'meta-b',
      tenant: 'meta',
      userId: 'ann',
      name: 'ignored',
    });
    expect((await b.info()).name).toBe('Renamed');

    const all = await PostgresSession.list(db.pool, { tenant: 'meta', userId: 'ann' });
    expect(all.map((s) => s.id).sort()).toEqual([await a.getSessionId(), 'meta-b'].sort());
    expect(
      (await PostgresSession.list(db.pool, { tenant: 'meta', userId: 'ann', active: true })).map((s) => s.id),
    ).toEqual([await a.getSessionId()]);
    // Most recently written first.
    await a.addItems([user('touch')]);
    expect((await PostgresSession.list(db.pool, { tenant: 'meta', userId: 'ann' }))[0]!.id).toBe(
      await a.getSessionId(),
    );
  });

  it('reads the runtime transcript: items the workflow wrote are the session history', async () => {
    const id = 'conversation:rt:web:1';
    await db.pool.query(
      "INSERT INTO conversations (id, tenant, channel, external_id, agent) VALUES ($1, 'rt', 'web', '1', 'concierge')",
      [id],
    );
    await withTransaction(db.pool, (tx) =>
      appendItems(tx, id, [
        {
          itemKey: 't1/in/m1',
          turn: 1,
          item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'weather?' }] },
        },
        {
          itemKey: 't1/s0/o0',
          turn: 1,
          item: {
            type: 'function_call',
            id: 'fc_1',
            call_id: 'call_1',
            name: 'get_weather',
            arguments: '{}',
            status: 'completed',
          },
        },
        {
          itemKey: 't1/s0/t0',
          turn: 1,
          item: { type: 'function_call_output', call_id: 'call_1', output: '{"temp":21}' },
        },
        {
          itemKey: 't1/s1/o0',
          turn: 1,
          item: {
            type: 'message',
            id: 'msg_1',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'Sunny', annotations: [] }],
          },
        },
      ]),
    );
    const session = await PostgresSession.open(db.pool, { sessionId: id, tenant: 'rt', userId: 'ops' });
    const items = await session.getItems(2);
    // The tool output's name comes from its call, found outside the window read.
    expect(items[0]).toMatchObject({
      type: 'function_call_result',
      callId: 'call_1',
      name: 'get_weather',
      output: '{"temp":21}',
    });
    expect(items[1]).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'Sunny' }],
    });
    // And what the SDK adds lands in the same transcript, after the runtime's items.
    await session.addItems([user('thanks')]);
    expect(await seqs(db.pool, id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a history mutation that drops a duplicate function call keeps the sequence gapless', async () => {
    const session = await PostgresSession.open(db.pool, {
      sessionId: 's-mutation',
      tenant: 't',
      userId: 'u',
    });
    const fc = (args: string): AgentInputItem => ({
      type: 'function_call',
      callId: 'c1',
      name: 'f',
      arguments: args,
      status: 'completed',
    });
    await session.addItems([user('a'), fc('1'), user('b'), fc('2'), user('c')]);
    await session.applyHistoryMutations({
      mutations: [{ type: 'replace_function_call', callId: 'c1', replacement: fc('3') as never }],
    });
    expect(await session.getItems()).toEqual([user('a'), fc('3'), user('b'), user('c')]);
    expect(await seqs(db.pool, 's-mutation')).toEqual([1, 2, 3, 4]);
  });

  it('a retried history transaction from another process applies once', async () => {
    const other = createPool(db.url, 2);
    try {
      const a = await PostgresSession.open(db.pool, { sessionId: 's-op', tenant: 't', userId: 'u' });
      const b = await PostgresSession.open(other, { sessionId: 's-op', tenant: 't', userId: 'u' });
      const args = {
        operationId: 'run-1:1:append:0:2',
        transaction: { type: 'append_items' as const, items: [user('x'), user('y')] },
      };
      await Promise.all([
        a.applyHistoryTransaction(args),
        b.applyHistoryTransaction(args),
        a.applyHistoryTransaction(args),
      ]);
      expect(await b.getItems()).toEqual([user('x'), user('y')]);
    } finally {
      await other.end();
    }
  });

  it('survives a process restart: a new object on a new pool sees the same history', async () => {
    const first = await PostgresSession.open(db.pool, { sessionId: 's-restart', tenant: 't', userId: 'u' });
    await first.addItems([user('remember me')]);
    const pool = createPool(db.url, 2);
    try {
      const again = await PostgresSession.open(pool, { sessionId: 's-restart', tenant: 't', userId: 'u' });
      expect(await again.getItems()).toEqual([user('remember me')]);
    } finally {
      await pool.end();
    }
  });
});
