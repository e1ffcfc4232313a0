import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/** The migrations routes: admin key only; start, progress, pause, resume, cancel, failures. */
let env: ApiEnv;
let base: string;
beforeAll(async () => {
  env = await startApiEnv();
  base = await env.start();
  // A legacy table with many conversation keys: slow enough (window 1) to pause and cancel.
  await env.db.pool.query(
    'CREATE TABLE old_chats (id serial PRIMARY KEY, conversation_key text, role text, content text, created_at timestamptz DEFAULT now())',
  );
  await env.db.pool.query(
    `INSERT INTO old_chats (conversation_key, role, content)
     SELECT 'chat-' || lpad(n::text, 4, '0'), r, 'message ' || n FROM generate_series(1, 1000) n, unnest(ARRAY['user', 'assistant']) r`,
  );
});
afterAll(() => env?.stop());

const url = (rest = '') => `${base}/v1/migrations${rest}`;
const progress = async (name: string) => json(await request('GET', url(`/${name}`), ADMIN_KEY));

describe('migrations API', () => {
  it('is for the admin key only and validates the source', async () => {
    expect((await request('POST', url(), null, { source: { kind: 'assistants-api' } })).status).toBe(401);
    const tenantKey = await env.keyFor('acme');
    expect((await request('GET', url('/x'), tenantKey)).status).toBe(403);
    const bad = await request('POST', url(), ADMIN_KEY, {
      source: { kind: 'messages-table', table: 'x; DROP TABLE y' },
    });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.type).toBe('invalid_request_error');
    expect((await request('GET', url('/nope'), ADMIN_KEY)).status).toBe(404);
  });

  it('starts a migration, reports progress to the end, and lists failures', { timeout: 60_000 }, async () => {
    const started = await request('POST', url(), ADMIN_KEY, {
      name: 'api-run',
      source: { kind: 'assistants-api', threadIds: ['thread_fixture_plain', 'thread_missing'] },
      target: { tenant: 'acme', channel: 'web', agent: 'assistant' },
    });
    expect(started.status).toBe(201);
    expect(await json(started)).toMatchObject({
      object: 'migration',
      id: 'api-run',
      migrationId: 'migration:api-run',
    });
    const again = await request('POST', url(), ADMIN_KEY, {
      name: 'api-run',
      source: { kind: 'assistants-api', threadIds: ['a'] },
    });
    expect([201, 409]).toContain(again.status); // 409 while it runs; it may already have finished
    await expect.poll(async () => (await progress('api-run')).status, { timeout: 30_000 }).toBe('completed');
    expect(await progress('api-run')).toMatchObject({ total: 2, done: 1, failed: 1, skipped: 0, items: 4 });
    const failures = await json(await request('GET', url('/api-run/failures'), ADMIN_KEY));
    expect(failures.data).toEqual([
      {
        unit: 'thread_missing',
        user: 'thread_missing',
        location: null,
        reason: expect.stringMatching(/^OpenAI 404/),
      },
    ]);
  });

  it('pauses, resumes and cancels', { timeout: 60_000 }, async () => {
    const started = await request('POST', url(), ADMIN_KEY, {
      name: 'api-slow',
      source: { kind: 'messages-table', table: 'old_chats' },
      options: { window: 1 },
    });
    expect(started.status).toBe(201);
    await expect.poll(async () => (await progress('api-slow')).done, { timeout: 30_000 }).toBeGreaterThan(0);
    expect((await request('POST', url('/api-slow/pause'), ADMIN_KEY)).status).toBe(202);
    // A running batch stops between units and hands back the rest with its next report (about
    // once a second), so a loaded machine may take a few seconds.
    await expect
      .poll(
        async () => {
          const p = await progress('api-slow');
          return `${p.status}/${p.inFlight}`;
        },
        { timeout: 15_000 },
      )
      .toBe('paused/0');
    const paused = (await progress('api-slow')).done;
    await new Promise((r) => setTimeout(r, 700));
    expect((await progress('api-slow')).done).toBe(paused);

    expect((await request('POST', url('/api-slow/resume'), ADMIN_KEY)).status).toBe(202);
    await expect
      .poll(async () => (await progress('api-slow')).done, { timeout: 30_000 })
      .toBeGreaterThan(paused);
    expect((await request('POST', url('/api-slow/cancel'), ADMIN_KEY)).status).toBe(202);
    await expect.poll(async () => (await progress('api-slow')).status, { timeout: 30_000 }).toBe('cancelled');
    const end = await progress('api-slow');
    expect(end.total).toBe(1000);
    expect(end.done).toBeLessThan(1000);
    const { rows } = await env.db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM migration_units WHERE migration_id = 'migration:api-slow' AND status = 'done'",
    );
    expect(Number(rows[0]!.n)).toBe(end.done);
    // It has ended: nothing to pause, and the answer says so.
    expect((await request('POST', url('/api-slow/pause'), ADMIN_KEY)).status).toBe(409);
  });
});
