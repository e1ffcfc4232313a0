import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { senderKey } from '../../src/channels/senders.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import {
  createTestDatabase,
  startTestWorker,
  testClient,
  uniqueTaskQueue,
  type RunningWorker,
  type TestDatabase,
} from '../support/env.js';
import { message, sendWithStart } from './harness.js';
import { KILL_CHANNEL, recordingSender } from './support/sendingWorker.js';

/**
 * `kill -9` of the worker while a reply is inside its channel's send (the provider has it, the
 * ledger does not): the next worker finishes the turn, the reply reaches the channel, and a second
 * send is one the ledger counts as a possible duplicate; no turn ends without its reply.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
let db: TestDatabase;
let emulator: Emulator;
let client: Client;
let closeClient: () => Promise<void>;
let replacement: RunningWorker | undefined;
const children: ChildProcess[] = [];
const taskQueue = uniqueTaskQueue('killsend');

function startWorkerProcess(sendDelayMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/workflows/support/sendingWorker.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      OPENAI_BASE_URL: emulator.baseUrl,
      WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      SEND_DELAY_MS: String(sendDelayMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('worker ready')) resolve(child);
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${output.slice(-2_000)}`)));
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  emulator = await startEmulator();
  ({ client, close: closeClient } = await testClient());
  await db.pool.query('CREATE TABLE kill_sends (idempotency_key text PRIMARY KEY, sends int NOT NULL)');
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await replacement?.stop();
  await closeClient?.();
  await emulator?.close();
  await db?.drop();
});

async function sends(key: string): Promise<number> {
  const { rows } = await db.pool.query<{ sends: number }>(
    'SELECT sends FROM kill_sends WHERE idempotency_key = $1',
    [key],
  );
  return rows[0]?.sends ?? 0;
}

describe('a worker killed inside a send', () => {
  it(
    'the next worker sends the reply again, counted once, and later turns are answered',
    { timeout: 120_000 },
    async () => {
      const first = await startWorkerProcess(60_000);
      const input = { tenant: 'default', channel: KILL_CHANNEL, externalId: 'kill-1', agent: 'assistant' };
      const workflowId = conversationWorkflowId(input);
      const reply = sendWithStart(client, taskQueue, input, message('one'));
      // The channel took the message and has not answered: the ledger says 'sending'.
      await expect.poll(() => sends(`${workflowId}/1`), { timeout: 60_000, interval: 100 }).toBe(1);
      first.kill('SIGKILL');

      replacement = await startTestWorker({
        pool: db.pool,
        taskQueue,
        openaiBaseUrl: emulator.baseUrl,
        senders: new Map([[senderKey('default', KILL_CHANNEL), recordingSender(db.pool, 0)]]),
      });
      const answered = await reply;
      expect(answered).toMatchObject({ status: 'answered', turn: 1 });
      expect(answered.text).toContain('You said: "one"');
      // Sent again under the same key, and the ledger counts that one possible duplicate.
      expect(await sends(`${workflowId}/1`)).toBe(2);
      const ledger = await db.pool.query(
        'SELECT turn, status, possible_duplicates FROM deliveries WHERE conversation_id = $1 ORDER BY turn',
        [workflowId],
      );
      expect(ledger.rows).toEqual([{ turn: 1, status: 'sent', possible_duplicates: 1 }]);

      const two = await sendWithStart(client, taskQueue, input, message('two'));
      expect(two).toMatchObject({ status: 'answered', turn: 2 });
      expect(await sends(`${workflowId}/2`)).toBe(1);
      const items = await db.pool.query<{ role: string | null }>(
        `SELECT role FROM session_items WHERE session_id = $1 AND type = 'message' ORDER BY seq`,
        [workflowId],
      );
      expect(items.rows.map((r) => r.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    },
  );
});
