import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';
import { startTestWorker, uniqueTaskQueue, type RunningWorker } from '../support/env.js';

/**
 * A migration's progress while no worker answers its query (all busy, or gone): the API answers
 * from Postgres, where every unit's outcome is, instead of holding the caller until Temporal gives
 * up and then failing with a 500.
 */
let env: ApiEnv;
let base: string;
// Its own task queue and worker, which the test stops: the file's worker stays as it is.
const taskQueue = uniqueTaskQueue('busy');
let worker: RunningWorker;
beforeAll(async () => {
  env = await startApiEnv();
  worker = await startTestWorker({ pool: env.db.pool, taskQueue });
  base = await env.start({ taskQueue });
  await env.db.pool.query(
    'CREATE TABLE busy_chats (id serial PRIMARY KEY, conversation_key text, role text, content text, created_at timestamptz DEFAULT now())',
  );
  await env.db.pool.query(
    `INSERT INTO busy_chats (conversation_key, role, content)
     SELECT 'busy-' || lpad(n::text, 4, '0'), 'user', 'message ' || n FROM generate_series(1, 300) n`,
  );
});
afterAll(() => env?.stop());

const url = (rest = '') => `${base}/v1/migrations${rest}`;

describe('migration progress without a worker to answer the query', () => {
  it('answers promptly from Postgres with the units done so far', { timeout: 60_000 }, async () => {
    const started = await request('POST', url(), ADMIN_KEY, {
      name: 'busy',
      source: { kind: 'messages-table', table: 'busy_chats' },
      options: { window: 1 },
    });
    expect(started.status).toBe(201);
    await expect
      .poll(async () => (await json(await request('GET', url('/busy'), ADMIN_KEY))).done, { timeout: 30_000 })
      .toBeGreaterThan(0);
    await worker.stop();

    const askedAt = Date.now();
    const res = await request('GET', url('/busy'), ADMIN_KEY);
    expect(res.status).toBe(200);
    expect(Date.now() - askedAt).toBeLessThan(10_000);
    const body = await json(res);
    const { rows } = await env.db.pool.query<{ status: string; n: string }>(
      "SELECT status, count(*) AS n FROM migration_units WHERE migration_id = 'migration:busy' GROUP BY status",
    );
    const counts = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    expect(body).toMatchObject({
      id: 'busy',
      status: 'running',
      total: 300,
      done: counts.done ?? 0,
      failed: counts.failed ?? 0,
      skipped: counts.skipped ?? 0,
    });
    expect(body.done).toBeGreaterThan(0);
  });
});
