import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from './database.js';
import type { ChannelSender } from '../../src/activities/delivery.js';
import { defaultAgents, type AgentRegistry } from '../../src/agents/registry.js';
import { createOpenAIClient } from '../../src/openaiClient.js';
import type { Pool } from '../../src/store/pool.js';
import { createWorker, type WorkerDeps } from '../../src/worker.js';

// Worker state changes are logged at INFO: noise in test output. Warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Helpers for test files: each file gets its own database and task queue, so files run in parallel. */

export type TestDatabase = ScratchDatabase;

/** A fresh, migrated database on the run's PostgreSQL server. */
export function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  return createScratchDatabase(inject('postgresAdminUrl'), { prefix: 'tl_test', poolSize: 10, ...options });
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export async function testClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  return {
    client: new Client({ connection, namespace: inject('temporalNamespace') }),
    close: () => connection.close(),
  };
}

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** A real worker with the run's workflow bundle, polling until `stop()`. */
export async function startTestWorker(options: {
  pool: Pool;
  taskQueue: string;
  openaiBaseUrl?: string;
  agents?: AgentRegistry;
  senders?: ReadonlyMap<string, ChannelSender>;
  shutdownGraceTimeMs?: number;
  media?: WorkerDeps['media'];
  streamModel?: boolean;
}): Promise<RunningWorker> {
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await createWorker({
    connection,
    namespace: inject('temporalNamespace'),
    taskQueue: options.taskQueue,
    pool: options.pool,
    openai: createOpenAIClient({
      apiKey: 'test-key',
      baseUrl: options.openaiBaseUrl ?? inject('emulatorBaseUrl'),
    }),
    agents: options.agents ?? defaultAgents('gpt-5-mini'),
    workflowBundle: { code: readFileSync(inject('workflowBundlePath'), 'utf8') },
    ...(options.senders ? { senders: options.senders } : {}),
    ...(options.media ? { media: options.media } : {}),
    ...(options.shutdownGraceTimeMs !== undefined
      ? { shutdownGraceTimeMs: options.shutdownGraceTimeMs }
      : {}),
    ...(options.streamModel === false ? { streamModel: false } : {}),
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
