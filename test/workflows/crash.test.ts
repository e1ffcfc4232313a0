import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createTestDatabase, testClient, uniqueTaskQueue, type TestDatabase } from '../support/env.js';
import { message, sendWithStart } from './harness.js';
import type { Client } from '@temporalio/client';
import { conversationWorkflowId } from '../../src/workflows/ids.js';

/**
 * `kill -9` of the worker process in the middle of a model call: another worker finishes the turn
 * (after the model activity's heartbeat timeout) and the transcript has no duplicate.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
let db: TestDatabase;
let emulator: Emulator;
let client: Client;
let closeClient: () => Promise<void>;
const children: ChildProcess[] = [];
const taskQueue = uniqueTaskQueue('crash');

function startWorkerProcess(): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      OPENAI_BASE_URL: emulator.baseUrl,
      OPENAI_API_KEY: 'test-key',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  children.push(child);
  return { child, output: () => output };
}

beforeAll(async () => {
  db = await createTestDatabase();
  emulator = await startEmulator();
  ({ client, close: closeClient } = await testClient());
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await closeClient?.();
  await emulator?.close();
  await db?.drop();
});

describe('a worker killed mid-turn', () => {
  it('is replaced, the turn finishes, and nothing is written twice', { timeout: 120_000 }, async () => {
    const first = startWorkerProcess();
    const input = { tenant: 'default', channel: 'web', externalId: 'crash-1', agent: 'assistant' };
    const workflowId = conversationWorkflowId(input);
    // The first model call hangs long enough to kill the worker during it.
    emulator.faults.add({ kind: 'latency', latencyMs: 8_000, match: { path: '^/v1/responses$' } });
    const reply = sendWithStart(client, taskQueue, input, message('are you still there?'));
    // Wait until the model call is in flight: the turn's input is already in Postgres.
    await expect
      .poll(
        async () =>
          (await db.pool.query('SELECT 1 FROM session_items WHERE session_id = $1', [workflowId])).rowCount,
        {
          timeout: 60_000,
          interval: 200,
        },
      )
      .toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    first.child.kill('SIGKILL');

    startWorkerProcess();
    const answered = await reply;
    expect(answered.status).toBe('answered');
    expect(answered.text).toContain('You said: "are you still there?"');

    const items = await db.pool.query<{ type: string; role: string | null }>(
      `SELECT type, role FROM session_items WHERE session_id = $1 ORDER BY seq`,
      [workflowId],
    );
    // One user message, and the retry's one reasoning item and one answer: nothing twice.
    expect(items.rows.map((r) => [r.type, r.role])).toEqual([
      ['message', 'user'],
      ['reasoning', null],
      ['message', 'assistant'],
    ]);
    const calls = await db.pool.query('SELECT response_id FROM model_calls WHERE conversation_id = $1', [
      workflowId,
    ]);
    expect(calls.rows).toEqual([{ response_id: answered.responseId }]);
    // The emulator saw the abandoned call and the retry; only the retry's answer was kept.
    const posts = emulator.requests().filter((r) => r.path === '/v1/responses' && r.method === 'POST');
    expect(posts.length).toBe(2);
  });
});
