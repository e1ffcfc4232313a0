import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateAssistantsFixture } from '../../src/emulator/server.js';
import {
  convertThread,
  type AssistantsMessage,
  type AssistantsRunStep,
} from '../../src/migration/convert.js';
import { migrationProgressQuery } from '../../src/workflows/migrationMessages.js';
import { startMigrationEnv, type MigrationEnv } from './harness.js';

/**
 * `kill -9` of the worker process in the middle of a migration: a new worker process resumes it,
 * threads finished before the crash are not read again, and the counts still add up.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = generateAssistantsFixture({ threads: 80, messagesPerThread: 2, seed: 11 });
const expectedItems = fixture.threads.reduce(
  (n, t) =>
    n +
    convertThread(
      fixture.messages.filter((m) => m.thread_id === t.id) as unknown as AssistantsMessage[],
      fixture.steps.filter((s) => s.thread_id === t.id) as unknown as AssistantsRunStep[],
    ).items.length,
  0,
);
let env: MigrationEnv;
const children: ChildProcess[] = [];

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: env.db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      TEMPORAL_TASK_QUEUE: env.taskQueue,
      OPENAI_BASE_URL: env.emulator.baseUrl,
      OPENAI_API_KEY: 'test-key',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  env = await startMigrationEnv({ fixture, worker: false });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await env?.close();
});

describe('a worker killed mid-migration', () => {
  it(
    'is replaced and the migration finishes without redoing finished threads',
    { timeout: 120_000 },
    async () => {
      env.emulator.faults.add({
        kind: 'latency',
        latencyMs: 150,
        times: -1,
        match: { path: '^/v1/threads/' },
      });
      const first = startWorkerProcess();
      const handle = await env.start(
        { kind: 'assistants-api' },
        { window: 5, continueAsNewEvery: 30, pageSize: 10 },
      );
      await expect
        .poll(async () => (await handle.query(migrationProgressQuery)).done, {
          timeout: 60_000,
          interval: 200,
        })
        .toBeGreaterThanOrEqual(20);
      const before = await handle.query(migrationProgressQuery);
      first.kill('SIGKILL');

      startWorkerProcess();
      const progress = await handle.result();
      expect(progress).toMatchObject({
        status: 'completed',
        total: 80,
        done: 80,
        failed: 0,
        skipped: 0,
        items: expectedItems,
      });
      expect(await env.itemCount()).toBe(expectedItems);

      // Each thread's messages were read once, or twice if its unit was in flight at the kill.
      const reads = new Map<string, number>();
      for (const r of env.emulator.requests()) {
        const m = /^\/v1\/threads\/([^/]+)\/messages$/.exec(r.path);
        if (m) reads.set(m[1]!, (reads.get(m[1]!) ?? 0) + 1);
      }
      expect(reads.size).toBe(80);
      const readTwice = [...reads.values()].filter((n) => n > 1).length;
      expect(readTwice).toBeLessThanOrEqual(5); // at most the window
      expect(before.done).toBeGreaterThanOrEqual(20);
    },
  );
});
