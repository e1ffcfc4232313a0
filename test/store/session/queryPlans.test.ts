import type { AgentInputItem } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool, PoolClient } from '../../../src/store/pool.js';
import { PostgresSession } from '../../../src/store/session/postgresSession.js';
import { createTestDatabase, type TestDatabase } from '../../support/env.js';

/**
 * The hot queries use the indexes at realistic sizes: a table of 120,000 items over 101 sessions,
 * analyzed, with no planner settings changed. Every statement getItems/addItems/popItem sends is
 * recorded from the real calls and EXPLAINed with its real parameters.
 */

interface Recorded {
  text: string;
  values: unknown[];
}

/** A statement as text and values, whether sent as (text, values) or as a prepared-statement config. */
function recorded(query: string | { text: string; values?: unknown[] }, values?: unknown[]): Recorded {
  return typeof query === 'string'
    ? { text: query, values: values ?? [] }
    : { text: query.text, values: query.values ?? [] };
}

/** A pool (and its clients) recording each statement they run. */
function recording(pool: Pool, log: Recorded[]): Pool {
  const wrapClient = (client: PoolClient): PoolClient =>
    new Proxy(client, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return (query: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
          log.push(recorded(query, values));
          return target.query(query as string, values);
        };
      },
    });
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'connect') return async () => wrapClient(await target.connect());
      if (prop === 'query')
        return (query: string | { text: string; values?: unknown[] }, values?: unknown[]) => {
          log.push(recorded(query, values));
          return target.query(query as string, values);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  // 100 other sessions of 1,000 items and the one under test with 20,000.
  await db.pool.query(`
    INSERT INTO sessions (id, tenant, user_id) SELECT 's-' || s, 't', 'u' FROM generate_series(0, 100) s;
    INSERT INTO session_items (session_id, seq, item, type, role, item_key)
    SELECT 's-' || s, n, jsonb_build_object('type', 'message', 'role', 'user', 'content', 'item ' || n),
           'message', 'user', 'k' || n
      FROM generate_series(1, 100) s, generate_series(1, 1000) n;
    INSERT INTO session_items (session_id, seq, item, type, role, item_key)
    SELECT 's-0', n, jsonb_build_object('type', 'message', 'role', 'user', 'content', 'item ' || n),
           'message', 'user', 'k' || n
      FROM generate_series(1, 20000) n;
    ANALYZE session_items;
    ANALYZE sessions;
  `);
});
afterAll(async () => {
  await db.drop();
});

const user = (text: string): AgentInputItem => ({ type: 'message', role: 'user', content: text });

describe('query plans of the hot session queries', () => {
  it.each([
    ['getItems(50)', (s: PostgresSession) => s.getItems(50)],
    [
      'addItems(10)',
      (s: PostgresSession) => s.addItems(Array.from({ length: 10 }, (_, i) => user(`new ${i}`))),
    ],
    ['popItem()', (s: PostgresSession) => s.popItem()],
  ])('%s: no sequential scan on session_items', async (_name, call) => {
    const log: Recorded[] = [];
    const session = await PostgresSession.open(recording(db.pool, log), {
      sessionId: 's-0',
      tenant: 't',
      userId: 'u',
    });
    log.length = 0;
    await call(session);
    const statements = log.filter((q) => /session_items/.test(q.text));
    expect(statements.length).toBeGreaterThan(0);
    for (const q of statements) {
      const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan, `${q.text}\n${plan}`).not.toMatch(/Seq Scan on session_items/);
    }
  });

  it('the check can fail: a query without a usable index shows a sequential scan', async () => {
    const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(
      "EXPLAIN SELECT item FROM session_items WHERE item->>'content' = 'item 7'",
    );
    expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Seq Scan on session_items/);
  });
});
