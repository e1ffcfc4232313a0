import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAssistantsFixture } from '../../src/emulator/server.js';
import {
  convertThread,
  type AssistantsMessage,
  type AssistantsRunStep,
} from '../../src/migration/convert.js';
import { migrationProgressQuery } from '../../src/workflows/migrationMessages.js';
import { startMigrationEnv, type MigrationEnv } from './harness.js';

/**
 * 500 Assistants threads through the real engine, under rate limiting and injected failures, with
 * exact counts; then a rerun that adds nothing and a dry run that writes nothing.
 */
const fixture = generateAssistantsFixture({ threads: 500, messagesPerThread: 4, seed: 7 });
const itemsOf = (threadId: string) =>
  convertThread(
    fixture.messages.filter((m) => m.thread_id === threadId) as unknown as AssistantsMessage[],
    fixture.steps.filter((s) => s.thread_id === threadId) as unknown as AssistantsRunStep[],
  ).items.length;
const broken = [fixture.threads[13]!.id, fixture.threads[250]!.id, fixture.threads[499]!.id];

let env: MigrationEnv;
beforeAll(async () => {
  env = await startMigrationEnv({ fixture });
});
afterAll(async () => {
  await env?.close();
});

describe('a 500-thread migration', () => {
  it('finishes with exact counts despite 429s, 5xx and broken threads', { timeout: 120_000 }, async () => {
    const messages = '^/v1/threads/[^/]+/messages$';
    env.emulator.faults.add({ kind: 'latency', latencyMs: 5, times: -1 });
    env.emulator.faults.add({
      kind: 'rate_limit',
      retryAfterSeconds: 1,
      times: 40,
      match: { path: messages },
    });
    env.emulator.faults.add({ kind: 'server_error', status: 503, times: 15, match: { path: '/steps$' } });
    for (const id of broken) {
      env.emulator.faults.add({
        kind: 'error',
        errorStatus: 404,
        times: -1,
        match: { path: `^/v1/threads/${id}/messages$` },
        error: { message: `No thread found with id '${id}'.`, type: 'invalid_request_error' },
      });
    }
    const started = Date.now();
    const handle = await env.start(
      { kind: 'assistants-api' },
      { window: 25, continueAsNewEvery: 200, pageSize: 50, name: 'five-hundred' },
    );
    // The progress query answers while it runs.
    await expect
      .poll(async () => (await handle.query(migrationProgressQuery)).done, { timeout: 60_000 })
      .toBeGreaterThan(0);
    const progress = await handle.result();
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `[migration] 500 threads in ${seconds.toFixed(1)} s: ${(500 / seconds).toFixed(1)} threads/s`,
    );

    const expectedItems = fixture.threads
      .filter((t) => !broken.includes(t.id))
      .reduce((n, t) => n + itemsOf(t.id), 0);
    expect(progress).toMatchObject({
      status: 'completed',
      total: 500,
      done: 497,
      failed: 3,
      skipped: 0,
      items: expectedItems,
      inFlight: 0,
      etaSeconds: 0,
    });
    expect(await env.itemCount()).toBe(expectedItems);
    // Every 429 was waited out: none of them is a failure.
    expect(env.emulator.faults.list().find((f) => f.kind === 'rate_limit')).toBeUndefined(); // all 40 spent
    const { rows: failures } = await env.db.pool.query<{ unit_id: string; reason: string }>(
      "SELECT unit_id, reason FROM migration_units WHERE migration_id = 'migration:five-hundred' AND status = 'failed' ORDER BY unit_id",
    );
    expect(failures.map((f) => f.unit_id)).toEqual([...broken].sort());
    expect(failures[0]!.reason).toMatch(/^OpenAI 404: .*No thread found with id/);
    const { rows: mapped } = await env.db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM conversation_sources WHERE source_kind = 'assistants'",
    );
    expect(Number(mapped[0]!.n)).toBe(497);
    // Continue-as-new every 200 children: three runs.
    const description = await handle.describe();
    expect(description.runId).not.toBe(handle.firstExecutionRunId);
  });

  it(
    'a rerun adds nothing, and a dry run reports what would change without writing',
    { timeout: 60_000 },
    async () => {
      env.emulator.faults.clear();
      const before = await env.itemCount();
      const some = fixture.threads.slice(14, 54).map((t) => t.id);
      const rerun = await env.run({ kind: 'assistants-api', threadIds: some }, { window: 20 });
      expect(rerun).toMatchObject({ done: 0, skipped: 40, failed: 0, items: 0 });
      expect(await env.itemCount()).toBe(before);

      const dry = await env.run(
        { kind: 'assistants-api', threadIds: [...broken, some[0]!] },
        { dryRun: true },
      );
      expect(dry).toMatchObject({
        dryRun: true,
        done: 3,
        skipped: 1,
        items: broken.reduce((n, id) => n + itemsOf(id), 0),
      });
      expect(await env.itemCount()).toBe(before);
    },
  );
});
