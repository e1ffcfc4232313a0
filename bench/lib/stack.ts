import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { pino } from 'pino';
import { createApiKey } from '../../src/api/apiKeys.js';
import { createApp } from '../../src/api/app.js';
import { listen } from '../../src/api/server.js';
import { startEmulator, type AssistantsFixture, type Emulator } from '../../src/emulator/server.js';
import { resolveTemporalCli } from '../../src/temporal/cli.js';
import { startDevServer, type DevServer } from '../../src/temporal/devServer.js';
import type { Pool } from '../../src/store/pool.js';
import { bundleWorkflows } from '../../src/worker.js';
import { freePort } from '../../test/support/ports.js';
import { createScratchDatabase } from '../../test/support/database.js';
import { startPostgresCluster, type PostgresCluster } from '../../test/support/postgres.js';
import { AGENTS } from './agents.js';
import { WORKER_SCRIPT, type WorkerProcessOptions } from '../worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

/**
 * The whole runtime on this machine, as the benchmarks drive it: a Temporal dev server (in
 * memory), a throwaway PostgreSQL cluster, the emulator (latency 0), a Threadline worker in its own
 * process (plus the floor workflow's worker), and the API in this process.
 */
export interface Stack {
  temporal: DevServer;
  client: Client;
  cluster: PostgresCluster;
  /** The stack's database (migrated). */
  databaseUrl: string;
  pool: Pool;
  emulator: Emulator;
  /** The Assistants threads the emulator serves (the migration's source). */
  fixture: AssistantsFixture;
  taskQueue: string;
  floorTaskQueue: string;
  bundlePath: string;
  worker: WorkerProcess;
  apiUrl: string;
  apiKey: string;
  /** A fresh database on the stack's cluster, migrated unless told otherwise. */
  createDatabase(options?: {
    migrate?: boolean;
  }): Promise<{ url: string; pool: Pool; drop(): Promise<void> }>;
  /** Another worker process (its own task queue) on the stack's database and emulator. */
  startWorker(taskQueue: string): Promise<WorkerProcess>;
  stop(): Promise<void>;
}

export interface WorkerProcess {
  pid: number;
  stop(): Promise<void>;
}

export async function startStack(options: {
  fixture: AssistantsFixture;
  log: (line: string) => void;
}): Promise<Stack> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(err));
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-bench-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const [cli, cluster, emulator, bundlePath, floorBundlePath] = await Promise.all([
      resolveTemporalCli({
        explicitPath: process.env.TEMPORAL_CLI_PATH,
        env: process.env,
        allowSdkDownload: false,
      }),
      startPostgresCluster(),
      startEmulator({ assistantsFixture: options.fixture }),
      bundleWorkflows().then(({ code }) => writeTo(join(dir, 'workflows.js'), code)),
      bundleFloor().then((code) => writeTo(join(dir, 'floor.js'), code)),
    ]);
    cleanups.push(
      () => cluster.stop(),
      () => emulator.close(),
    );
    const temporal = await startDevServer({ cli, port: await freePort() });
    cleanups.push(() => temporal.stop());

    const createDatabase = (opts: { migrate?: boolean } = {}) =>
      createScratchDatabase(cluster.url, { prefix: 'tl_bench', poolSize: 20, ...opts });
    const db = await createDatabase();
    cleanups.push(() => db.pool.end());

    const base: Omit<WorkerProcessOptions, 'taskQueue'> = {
      temporalAddress: temporal.address,
      namespace: temporal.namespace,
      databaseUrl: db.url,
      openaiBaseUrl: emulator.baseUrl,
      bundlePath,
    };
    const startWorker = async (taskQueue: string, extra: Partial<WorkerProcessOptions> = {}) => {
      const w = await spawnWorker({ ...base, taskQueue, ...extra });
      cleanups.push(() => w.stop());
      return w;
    };
    const taskQueue = 'bench';
    const floorTaskQueue = 'bench-floor';
    const worker = await startWorker(taskQueue, { floorTaskQueue, floorBundlePath });

    const app = createApp({
      client: temporal.client,
      pool: db.pool,
      taskQueue,
      agent: AGENTS.plain,
      replyWaitMs: 300_000,
      log: pino({ level: 'silent' }),
      // The API's per-key limit protects a shared deployment; here it would cap the load generator.
      rateLimitPerMinute: 100_000_000,
    });
    const http = await listen(app, '127.0.0.1', 0, 2_000);
    cleanups.push(() => http.stop());
    const apiKey = (await createApiKey(db.pool, { tenant: 'bench', name: 'bench' })).key;
    options.log(
      `stack: Temporal ${temporal.address}, PostgreSQL, emulator ${emulator.origin}, API ${http.url}`,
    );

    return {
      temporal,
      client: temporal.client,
      cluster,
      databaseUrl: db.url,
      pool: db.pool,
      emulator,
      fixture: options.fixture,
      taskQueue,
      floorTaskQueue,
      bundlePath,
      worker,
      apiUrl: http.url,
      apiKey,
      createDatabase,
      startWorker: (queue) => startWorker(queue),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** An API whose conversations use another agent (the API takes one agent per instance). */
export async function startApi(stack: Stack, agent: string): Promise<{ url: string; stop(): Promise<void> }> {
  const app = createApp({
    client: stack.client,
    pool: stack.pool,
    taskQueue: stack.taskQueue,
    agent,
    replyWaitMs: 300_000,
    log: pino({ level: 'silent' }),
    rateLimitPerMinute: 100_000_000,
  });
  const http = await listen(app, '127.0.0.1', 0, 2_000);
  return { url: http.url, stop: http.stop };
}

function writeTo(path: string, code: string): string {
  writeFileSync(path, code);
  return path;
}

async function bundleFloor(): Promise<string> {
  const quiet = () => {};
  const { code } = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../floor/workflows.ts', import.meta.url)),
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
  return code;
}

async function spawnWorker(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(options)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`bench worker exited with code ${code} before it was ready`)),
    );
  });
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
    },
  };
}
