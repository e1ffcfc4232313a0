import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, withTransaction, type Pool } from '../../src/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';

/**
 * Found by the postgres-outage drill (docs/drills.md): PostgreSQL going away while a worker held a
 * pooled client for a transaction crashed the worker, because node-postgres emits 'error' on a
 * checked-out client and the pool only listens on idle ones.
 */
let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  pool = createPool(db.url, 2);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('a connection lost while its client is checked out', () => {
  it('fails the transaction, not the process, and the pool recovers', async () => {
    await expect(
      withTransaction(pool, async (tx) => {
        const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // The server ends this connection (as a restart or failover does) between two statements.
        await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await new Promise((r) => setTimeout(r, 300));
        await tx.query('SELECT 1');
      }),
    ).rejects.toThrow();
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});
