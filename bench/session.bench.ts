/**
 * `npm run bench:session`: PostgresSession against PostgreSQL, with MemorySession as the floor.
 *
 * - getItems(50) on a session holding 100,000 items (the table holds 200,000 over 51 sessions);
 * - addItems(10) on that session, one writer, then 8 concurrent writers on one session.
 *
 * Uses DATABASE_URL when set (it creates and drops a database there), else a throwaway local
 * cluster like the tests (durability off: faster commits than a production server).
 * Prints a Markdown table for docs/store.md.
 */
import { randomBytes } from 'node:crypto';
import { MemorySession, type AgentInputItem } from '@openai/agents';
import { migrate } from '../src/store/migrate.js';
import { createPool } from '../src/store/pool.js';
import { PostgresSession } from '../src/store/session/postgresSession.js';
import { startPostgresCluster } from '../test/support/postgres.js';

const ITEMS = 100_000;
const OTHER_SESSIONS = 50;
const OTHER_ITEMS = 2_000;

interface Result {
  name: string;
  samples: number[];
}

async function measure(name: string, iterations: number, fn: () => Promise<unknown>): Promise<Result> {
  for (let i = 0; i < Math.min(50, iterations); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return { name, samples };
}

function row(r: Result): string {
  const sorted = [...r.samples].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const fmt = (ms: number) => (ms < 0.1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);
  return `| ${r.name} | ${sorted.length} | ${fmt(q(0.5))} | ${fmt(q(0.95))} | ${fmt(q(0.99))} | ${fmt(mean)} |`;
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

async function main(): Promise<void> {
  const cluster = process.env.DATABASE_URL ? undefined : await startPostgresCluster();
  const adminUrl = process.env.DATABASE_URL ?? cluster!.url;
  const admin = createPool(adminUrl, 1);
  const name = `tl_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), 10);
  try {
    await migrate(pool);
    const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
    console.log(
      `PostgreSQL ${rows[0]!.server_version}, Node ${process.version}, ${cluster ? 'throwaway cluster (fsync off)' : 'DATABASE_URL'}`,
    );

    const seedStarted = performance.now();
    // Rows as PostgresSession writes them (wire items), made in SQL: seeding through the API
    // would take minutes and measures nothing of interest.
    await pool.query(`
      INSERT INTO sessions (id, tenant, user_id) SELECT 'bench-' || s, 'bench', 'u' FROM generate_series(0, ${OTHER_SESSIONS}) s;
      INSERT INTO session_items (session_id, seq, item, type, role, item_key)
      SELECT 'bench-' || s, n,
             CASE WHEN n % 2 = 1
               THEN jsonb_build_object('type', 'message', 'role', 'user', 'content', 'message ' || n || ': ' || repeat('lorem ipsum dolor sit amet ', 6))
               ELSE jsonb_build_object('type', 'message', 'role', 'assistant', 'status', 'completed',
                      'content', jsonb_build_array(jsonb_build_object('type', 'output_text', 'text',
                        'message ' || n || ': ' || repeat('lorem ipsum dolor sit amet ', 6), 'annotations', '[]'::jsonb, 'logprobs', '[]'::jsonb)))
             END,
             'message', CASE WHEN n % 2 = 1 THEN 'user' ELSE 'assistant' END, 'seed/' || n
        FROM generate_series(0, ${OTHER_SESSIONS}) s,
             generate_series(1, CASE WHEN s = 0 THEN ${ITEMS} ELSE ${OTHER_ITEMS} END) n;
      ANALYZE;
    `);
    console.log(
      `seeded ${ITEMS + OTHER_SESSIONS * OTHER_ITEMS} items in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`,
    );

    const pg = await PostgresSession.open(pool, { sessionId: 'bench-0', tenant: 'bench', userId: 'u' });
    const memory = new MemorySession({ initialItems: Array.from({ length: ITEMS }, (_, i) => item(i)) });
    const batch = (n: number) => Array.from({ length: 10 }, (_, i) => item(n * 10 + i));
    let n = 0;

    const results: Result[] = [];
    results.push(await measure('MemorySession getItems(50)', 2000, () => memory.getItems(50)));
    results.push(await measure('PostgresSession getItems(50)', 1000, () => pg.getItems(50)));
    results.push(await measure('MemorySession addItems(10)', 2000, () => memory.addItems(batch(n++))));
    results.push(await measure('PostgresSession addItems(10)', 1000, () => pg.addItems(batch(n++))));

    // 8 writers on one session: appends serialise on the session lock, so this shows its cost.
    const writers = 8;
    const perWriter = 100;
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
    results.push({
      name: `PostgresSession addItems(10), ${writers} concurrent writers`,
      samples: concurrent,
    });

    console.log('\n| Operation | Calls | p50 | p95 | p99 | mean |\n| --- | --- | --- | --- | --- | --- |');
    for (const r of results) console.log(row(r));
    console.log(
      `\n${writers} concurrent writers: ${((writers * perWriter) / seconds).toFixed(0)} addItems(10) calls/s ` +
        `(${((writers * perWriter * 10) / seconds).toFixed(0)} items/s) on one session`,
    );
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await cluster?.stop();
  }
}

await main();
