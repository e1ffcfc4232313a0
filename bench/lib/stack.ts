import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { resolveTemporalServer, startTemporalServer } from '../../src/temporal/server.js';
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
 * process (plus the floor workflow's worker), and the API in this process. With
 * `temporal: 'server'` (THREADLINE_TEMPORAL=server, `npm run bench -- --temporal server`), Temporal
 * is the production shape instead: Temporal Server on a PostgreSQL cluster of its own.
 */
export type TemporalShape = 'dev' | 'server';

/** The stack's processes by role, for CPU accounting (/proc/<pid>/stat of each and its children). */
export interface StackProcesses {
  temporal: number | undefined;
  /** Temporal's PostgreSQL (server shape only): the postmaster's port. */
  temporalPostgresPort: number | undefined;
  appPostgresPort: number;
  worker: number;
  /** This process: the API, and the load generator with it. */
  api: number;
}

export interface Stack {
  shape: TemporalShape;
  processes: StackProcesses;
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
  startWorker(
    taskQueue: string,
    options?: Pick<WorkerProcessOptions, 'tuning'> & {
      /** Run the compiled package (dist/, plain Node: bench/compiledWorker.mjs), the plain agent only. */
      compiled?: boolean;
    },
  ): Promise<WorkerProcess>;
  stop(): Promise<void>;
}

export interface WorkerProcess {
  pid: number;
  stop(): Promise<void>;
}

export async function startStack(options: {
  fixture: AssistantsFixture;
  log: (line: string) => void;
  temporal?: TemporalShape;
}): Promise<Stack> {
  const shape = options.temporal ?? 'dev';
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(err));
  };
  try {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-bench-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const [cli, cluster, emulator, bundlePath, floorBundlePath] = await Promise.all([
      shape === 'dev'
        ? resolveTemporalCli({
            explicitPath: process.env.TEMPORAL_CLI_PATH,
            env: process.env,
            allowSdkDownload: false,
          })
        : resolveTemporalServer({ env: process.env, onProgress: options.log }),
      startPostgresCluster(),
      startEmulator({ assistantsFixture: options.fixture }),
      bundleWorkflows().then(({ code }) => writeTo(join(dir, 'workflows.js'), code)),
      bundleFloor().then((code) => writeTo(join(dir, 'floor.js'), code)),
    ]);
    cleanups.push(
      () => cluster.stop(),
      () => emulator.close(),
    );
    let temporal: DevServer & { pid?: number };
    let temporalPostgresPort: number | undefined;
    if ('sqlTool' in cli) {
      // Temporal's own PostgreSQL, as in docker-compose.yml: its load is accounted apart.
      const temporalCluster = await startPostgresCluster();
      cleanups.push(() => temporalCluster.stop());
      temporalPostgresPort = Number(new URL(temporalCluster.url).port);
      temporal = await startTemporalServer({ binaries: cli, postgresUrl: temporalCluster.url });
    } else {
      temporal = await startDevServer({ cli, port: await freePort() });
    }
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
    const startWorker = async (
      taskQueue: string,
      { compiled, ...extra }: Partial<WorkerProcessOptions> & { compiled?: boolean } = {},
    ) => {
      const w = await spawnWorker({ ...base, taskQueue, ...extra }, compiled);
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
      ...HANDOVER,
      log: apiLog,
      // The API's per-key limit protects a shared deployment; here it would cap the load generator.
      rateLimitPerMinute: 100_000_000,
    });
    const http = await listen(app, '127.0.0.1', 0, 2_000);
    cleanups.push(() => http.stop());
    const apiKey = (await createApiKey(db.pool, { tenant: 'bench', name: 'bench' })).key;
    options.log(
      `stack: Temporal ${shape === 'server' ? 'Server on PostgreSQL' : 'dev server'} ${temporal.address}, ` +
        `PostgreSQL, emulator ${emulator.origin}, API ${http.url}`,
    );

    return {
      shape,
      processes: {
        temporal: temporal.pid,
        temporalPostgresPort,
        appPostgresPort: Number(new URL(cluster.url).port),
        worker: worker.pid,
        api: process.pid,
      },
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
      startWorker: (queue, opts) => startWorker(queue, opts),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Messages handed over in arrival order, 32 at a time (MESSAGE_HANDOVER_LIMIT; BENCH_HANDOVER_LIMIT
 * overrides, 0 for none), and a queue wait as long as the reply wait: under the throughput
 * benchmark's overload a 503 and retry would put a message back at the end of the queue.
 */
const HANDOVER = {
  handoverLimit: Number(process.env.BENCH_HANDOVER_LIMIT ?? 32),
  acceptWaitMs: Number(process.env.BENCH_ACCEPT_WAIT_MS ?? 300_000),
};

/** The API's errors (a 500 says only "it has been logged") go to stderr; nothing else. */
const apiLog = pino({ level: 'error' }, pino.destination(2));

/** An API whose conversations use another agent (the API takes one agent per instance). */
export async function startApi(stack: Stack, agent: string): Promise<{ url: string; stop(): Promise<void> }> {
  const app = createApp({
    client: stack.client,
    pool: stack.pool,
    taskQueue: stack.taskQueue,
    agent,
    replyWaitMs: 300_000,
    log: apiLog,
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

const COMPILED_WORKER_SCRIPT = fileURLToPath(new URL('../compiledWorker.mjs', import.meta.url));

async function spawnWorker(options: WorkerProcessOptions, compiled = false): Promise<WorkerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    compiled
      ? [COMPILED_WORKER_SCRIPT, JSON.stringify(options)]
      : ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(options)],
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

/**
 * CPU seconds (utime + stime, and the same for exited children, from /proc/<pid>/stat) used so far
 * by each role of the stack: a process and its descendants (PostgreSQL's backends are children of
 * its postmaster). The API's figure is this process alone (without its children: the worker and
 * Temporal are its children here), and includes the load generator that runs in it.
 */
export function cpuSeconds(p: StackProcesses): Record<string, number> {
  const ticks = 100; // CLK_TCK on Linux
  const stats = new Map<number, { ppid: number; cpu: number; cmdline: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the command: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17),
      // counted from 1. cutime/cstime hold children that exited (PostgreSQL's closed backends).
      const cpu = fields.slice(11, 15).reduce((a, f) => a + Number(f), 0) / ticks;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      stats.set(Number(entry), { ppid: Number(fields[1]), cpu, cmdline });
    } catch {
      // The process exited between readdir and read.
    }
  }
  const ownCpu = (pid: number): number => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  };
  const tree = (root: number | undefined): number => {
    if (root === undefined || !stats.has(root)) return 0;
    let total = stats.get(root)!.cpu;
    for (const [pid, s] of stats) if (s.ppid === root && pid !== root) total += tree(pid);
    return total;
  };
  const postmaster = (port: number | undefined) =>
    port === undefined
      ? undefined
      : [...stats].find(([, s]) => / -D /.test(s.cmdline) && s.cmdline.includes(`-p ${port} `))?.[0];
  const out: Record<string, number> = {
    temporal: tree(p.temporal),
    ...(p.temporalPostgresPort !== undefined
      ? { temporalPostgres: tree(postmaster(p.temporalPostgresPort)) }
      : {}),
    appPostgres: tree(postmaster(p.appPostgresPort)),
    worker: tree(p.worker),
    api: ownCpu(p.api),
  };
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v * 100) / 100]));
}
