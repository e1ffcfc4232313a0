import { MemorySession, type AgentInputItem } from '@openai/agents';
import type { Pool } from '../../src/store/pool.js';
import { PostgresSession } from '../../src/store/session/postgresSession.js';
import { percentiles, round, type Percentiles } from '../lib/stats.js';
import type { Benchmark } from '../lib/types.js';

/**
 * PostgresSession against PostgreSQL, with MemorySession as the floor:
 * - getItems(50) on a session holding `items` items (the table also holds other sessions' items);
 * - addItems(10) on that session, one writer, then 8 concurrent writers on one session.
 */
export interface SessionSizes {
  items: number;
  otherSessions: number;
  otherItems: number;
  /** Timed calls per measurement (MemorySession gets twice as many: it is cheap). */
  calls: number;
}

export const FULL_SIZES: SessionSizes = {
  items: 100_000,
  otherSessions: 50,
  otherItems: 2_000,
  calls: 1_000,
};
export const QUICK_SIZES: SessionSizes = { items: 10_000, otherSessions: 10, otherItems: 1_000, calls: 300 };

export interface SessionOperation extends Percentiles {
  name: string;
}

export interface SessionResult {
  sizes: SessionSizes;
  postgres: string;
  seedSeconds: number;
  operations: SessionOperation[];
  concurrent: { writers: number; callsPerSecond: number; itemsPerSecond: number };
  /** PostgresSession p50 / MemorySession p50. */
  ratios: { getItems: number; addItems: number };
}

async function measure(
  name: string,
  iterations: number,
  fn: () => Promise<unknown>,
): Promise<SessionOperation> {
  for (let i = 0; i < Math.min(50, iterations); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return { name, ...percentiles(samples.map((ms) => Number(ms.toFixed(4)))) };
}

const text = (i: number) => `message ${i}: ${'lorem ipsum dolor sit amet '.repeat(6)}`;
const item = (i: number): AgentInputItem =>
  i % 2 === 0
    ? { type: 'message', role: 'user', content: text(i) }
    : {
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: text(i), providerData: { annotations: [], logprobs: [] } }],
        providerData: {},
      };

/** Runs on a migrated, empty database. */
export async function runSessionBench(pool: Pool, sizes: SessionSizes): Promise<SessionResult> {
  const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
  const seedStarted = performance.now();
  // Rows as PostgresSession writes them (wire items), made in SQL: seeding through the API
  // would take minutes and measures nothing of interest.
  await pool.query(`
    INSERT INTO sessions (id, tenant, user_id) SELECT 'bench-' || s, 'bench', 'u' FROM generate_series(0, ${sizes.otherSessions}) s;
    INSERT INTO session_items (session_id, seq, item, type, role, item_key)
    SELECT 'bench-' || s, n,
           CASE WHEN n % 2 = 1
             THEN jsonb_build_object('type', 'message', 'role', 'user', 'content', 'message ' || n || ': ' || repeat('lorem ipsum dolor sit amet ', 6))
             ELSE jsonb_build_object('type', 'message', 'role', 'assistant', 'status', 'completed',
                    'content', jsonb_build_array(jsonb_build_object('type', 'output_text', 'text',
                      'message ' || n || ': ' || repeat('lorem ipsum dolor sit amet ', 6), 'annotations', '[]'::jsonb, 'logprobs', '[]'::jsonb)))
           END,
           'message', CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END, 'seed/' || n
      FROM generate_series(0, ${sizes.otherSessions}) s,
           generate_series(1, CASE WHEN s = 0 THEN ${sizes.items} ELSE ${sizes.otherItems} END) n;
    ANALYZE;
  `);
  const seedSeconds = round((performance.now() - seedStarted) / 1000, 1);

  const pg = await PostgresSession.open(pool, { sessionId: 'bench-0', tenant: 'bench', userId: 'u' });
  const memory = new MemorySession({ initialItems: Array.from({ length: sizes.items }, (_, i) => item(i)) });
  const batch = (n: number) => Array.from({ length: 10 }, (_, i) => item(n * 10 + i));
  let n = 0;

  const operations: SessionOperation[] = [];
  operations.push(await measure('MemorySession getItems(50)', sizes.calls * 2, () => memory.getItems(50)));
  operations.push(await measure('PostgresSession getItems(50)', sizes.calls, () => pg.getItems(50)));
  operations.push(
    await measure('MemorySession addItems(10)', sizes.calls * 2, () => memory.addItems(batch(n++))),
  );
  operations.push(await measure('PostgresSession addItems(10)', sizes.calls, () => pg.addItems(batch(n++))));

  // 8 writers on one session: appends serialise on the session lock, so this shows its cost.
  const writers = 8;
  const perWriter = Math.max(10, Math.round(sizes.calls / 10));
  const started = performance.now();
  const concurrent: number[] = [];
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < perWriter; i++) {
        const t = performance.now();
        await pg.addItems(batch(n++));
        concurrent.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  operations.push({
    name: `PostgresSession addItems(10), ${writers} concurrent writers`,
    ...percentiles(concurrent),
  });
  const p50 = (name: string) => operations.find((o) => o.name === name)!.p50;
  return {
    sizes,
    postgres: rows[0]!.server_version,
    seedSeconds,
    operations,
    concurrent: {
      writers,
      callsPerSecond: Math.round((writers * perWriter) / seconds),
      itemsPerSecond: Math.round((writers * perWriter * 10) / seconds),
    },
    ratios: {
      getItems: round(p50('PostgresSession getItems(50)') / p50('MemorySession getItems(50)'), 1),
      addItems: round(p50('PostgresSession addItems(10)') / p50('MemorySession addItems(10)'), 1),
    },
  };
}

export const sessionStore: Benchmark<SessionResult> = {
  name: 'session',
  title: 'Session store',
  async run({ stack, quick }) {
    const db = await stack.createDatabase();
    try {
      return await runSessionBench(db.pool, quick ? QUICK_SIZES : FULL_SIZES);
    } finally {
      await db.drop();
    }
  },
};
