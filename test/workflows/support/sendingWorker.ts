import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { ChannelSender } from '../../../src/activities/delivery.js';
import { defaultAgents } from '../../../src/agents/registry.js';
import { senderKey } from '../../../src/channels/senders.js';
import { createOpenAIClient } from '../../../src/openaiClient.js';
import { createPool, type Pool } from '../../../src/store/pool.js';
import { createWorker } from '../../../src/worker.js';

/**
 * A worker in its own process, so a test can kill -9 it in the middle of a send. Its channel
 * (tenant default, channel "kill") writes each message to `kill_sends` the moment it takes it, as
 * a provider would, then answers after SEND_DELAY_MS. Everything comes in the environment.
 */
export const KILL_CHANNEL = 'kill';

/** Counts every message the channel took, by idempotency key (the test's view of the provider). */
export function recordingSender(pool: Pool, delayMs: number): ChannelSender {
  return {
    async send(message) {
      await pool.query(
        `INSERT INTO kill_sends (idempotency_key, sends) VALUES ($1, 1)
         ON CONFLICT (idempotency_key) DO UPDATE SET sends = kill_sends.sends + 1`,
        [message.idempotencyKey],
      );
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return `sent-${message.idempotencyKey}`;
    },
  };
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`sendingWorker.ts needs ${name}`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const pool = createPool(env('DATABASE_URL'), 5);
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const worker = await createWorker({
    connection,
    namespace: env('TEMPORAL_NAMESPACE'),
    taskQueue: env('TEMPORAL_TASK_QUEUE'),
    pool,
    openai: createOpenAIClient({ apiKey: 'test-key', baseUrl: env('OPENAI_BASE_URL') }),
    agents: defaultAgents('gpt-5-mini'),
    senders: new Map([
      [senderKey('default', KILL_CHANNEL), recordingSender(pool, Number(env('SEND_DELAY_MS')))],
    ]),
    workflowBundle: { code: readFileSync(env('WORKFLOW_BUNDLE'), 'utf8') },
  });
  const running = worker.run();
  console.log('worker ready');
  await running;
}

if (process.argv[1]?.endsWith('sendingWorker.ts'))
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
