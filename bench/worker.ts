/**
 * A Threadline worker in its own process, as in production: the bench runner (API and load
 * generator) and the worker do not share an event loop, and the memory benchmark can read this
 * process's RSS from /proc without counting the runner.
 *
 * Arguments are JSON in argv[2] (a bench-internal contract, not a user interface). Prints `ready`
 * once polling; SIGTERM drains and exits.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createOpenAIClient } from '../src/openaiClient.js';
import { createPool } from '../src/store/pool.js';
import { loadConfig, type Config } from '../src/config.js';
import { createWorker } from '../src/worker.js';
import * as floorActivities from './floor/activities.js';
import { benchAgents } from './lib/agents.js';

export interface WorkerProcessOptions {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  openaiBaseUrl: string;
  taskQueue: string;
  bundlePath: string;
  /** Also run the floor workflow on this task queue. */
  floorTaskQueue?: string;
  floorBundlePath?: string;
  /** Overrides of the worker tuning the config gives (WORKER_* variables, src/config.ts). */
  tuning?: Partial<Config['workerTuning']>;
}

export const WORKER_SCRIPT = fileURLToPath(import.meta.url);

async function main(options: WorkerProcessOptions): Promise<void> {
  // Retried activities (429s under the migration's rate limit) warn by the hundred: errors only.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const pool = createPool(options.databaseUrl, 20);
  const connection = await NativeConnection.connect({ address: options.temporalAddress });
  const workers: Worker[] = [
    await createWorker({
      connection,
      namespace: options.namespace,
      taskQueue: options.taskQueue,
      pool,
      openai: createOpenAIClient({ apiKey: 'bench', baseUrl: options.openaiBaseUrl }),
      agents: benchAgents(),
      workflowBundle: { code: readFileSync(options.bundlePath, 'utf8') },
      // As a deployed worker is tuned: the config's defaults and WORKER_* variables, then the bench's overrides.
      tuning: { ...loadConfig(process.env).workerTuning, ...options.tuning },
    }),
  ];
  if (options.floorTaskQueue && options.floorBundlePath) {
    workers.push(
      await Worker.create({
        connection,
        namespace: options.namespace,
        taskQueue: options.floorTaskQueue,
        workflowBundle: { code: readFileSync(options.floorBundlePath, 'utf8') },
        activities: floorActivities,
      }),
    );
  }
  const running = workers.map((w) => w.run());
  console.log('ready');
  // Worker.run() handles SIGTERM itself: it stops polling and resolves once tasks have drained.
  await Promise.all(running);
  await connection.close();
  await pool.end();
}

if (process.argv[1] === WORKER_SCRIPT) {
  main(JSON.parse(process.argv[2] ?? '{}') as WorkerProcessOptions).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
