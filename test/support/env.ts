import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type { ChannelSender } from '../../src/activities/delivery.js';
import { defaultAgents, type AgentRegistry } from '../../src/agents/registry.js';
import { createOpenAIClient } from '../../src/openaiClient.js';
import { migrate } from '../../src/store/migrate.js';
import { createPool, type Pool } from '../../src/store/pool.js';
import { createWorker } from '../../src/worker.js';

// Worker state changes are logged at INFO: noise in test output. Warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Helpers for test files: each file gets its own database and task queue, so files run in parallel. */

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh, migrated database on the run's PostgreSQL server. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `tl_test_${randomBytes(6).toString('hex')}`;
  const admin = createPool(adminUrl, 1);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), 10);
  if (options.migrate ?? true) await migrate(pool);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
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
