/**
 * `npm run bench:session`: the session-store benchmark alone (`npm run bench -- --only session`
 * runs the same code on the full stack and records it in docs/benchmarks.md).
 *
 * Uses DATABASE_URL when set (it creates and drops a database there), else a throwaway local
 * cluster like the tests (durability off: faster commits than a production server).
 * Prints a Markdown table.
 */
import { randomBytes } from 'node:crypto';
import { migrate } from '../src/store/migrate.js';
import { createPool } from '../src/store/pool.js';
import { startPostgresCluster } from '../test/support/postgres.js';
import { FULL_SIZES, QUICK_SIZES, runSessionBench } from './benchmarks/session.js';

const fmt = (ms: number) => (ms < 0.1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);

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
    const r = await runSessionBench(pool, process.argv.includes('--quick') ? QUICK_SIZES : FULL_SIZES);
    console.log(
      `PostgreSQL ${r.postgres}, Node ${process.version}, ${cluster ? 'throwaway cluster (fsync off)' : 'DATABASE_URL'}; ` +
        `seeded ${r.sizes.items + r.sizes.otherSessions * r.sizes.otherItems} items in ${r.seedSeconds} s`,
    );
    console.log('\n| Operation | Calls | p50 | p95 | p99 | mean |\n| --- | --- | --- | --- | --- | --- |');
    for (const o of r.operations)
      console.log(`| ${o.name} | ${o.n} | ${fmt(o.p50)} | ${fmt(o.p95)} | ${fmt(o.p99)} | ${fmt(o.mean)} |`);
    console.log(
      `\n${r.concurrent.writers} concurrent writers: ${r.concurrent.callsPerSecond} addItems(10) calls/s ` +
        `(${r.concurrent.itemsPerSecond} items/s) on one session`,
    );
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await cluster?.stop();
  }
}

await main();
