import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { createApiKey } from '../src/api/apiKeys.js';
import { createApp } from '../src/api/app.js';
import { listen } from '../src/api/server.js';
import { startEmulator, type Emulator } from '../src/emulator/server.js';
import { migrate } from '../src/store/migrate.js';
import { createPool, type Pool } from '../src/store/pool.js';
import { resolveTemporalCli, type TemporalCli } from '../src/temporal/cli.js';
import { startDevServer, type DevServer } from '../src/temporal/devServer.js';
import {
  resolveTemporalServer,
  startTemporalServer,
  type ServerPorts,
  type TemporalServerBinaries,
} from '../src/temporal/server.js';
import { bundleWorkflows } from '../src/worker.js';
import { DRILL_AGENT, DRILL_TABLES, DRILL_TENANT } from './agent.js';
import { freePort } from '../test/support/ports.js';
import { startPostgresCluster, type PostgresCluster } from '../test/support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * What every drill shares: one PostgreSQL cluster (restartable), one file-backed Temporal dev server
 * (restartable on the same port and SQLite file) and the workflow bundle. With the production shape
 * (`npm run drill -- --temporal server`, or THREADLINE_TEMPORAL=server), Temporal is Temporal Server
 * on a PostgreSQL cluster of its own, restartable on the same port and databases.
 */
type TemporalSource =
  | { shape: 'dev'; cli: TemporalCli }
  | { shape: 'server'; binaries: TemporalServerBinaries; postgres: PostgresCluster; ports?: ServerPorts };

export class Infra {
  private constructor(
    readonly dir: string,
    readonly postgres: PostgresCluster,
    private readonly source: TemporalSource,
    readonly temporalPort: number,
    private temporal: DevServer,
    readonly bundlePath: string,
  ) {}

  static async start(log: (line: string) => void, shape: 'dev' | 'server' = 'dev'): Promise<Infra> {
    const dir = mkdtempSync(join(tmpdir(), 'threadline-drill-'));
    const [postgres, source, bundle] = await Promise.all([
      startPostgresCluster({ synchronousCommit: true }),
      shape === 'dev'
        ? resolveTemporalCli({
            explicitPath: process.env.TEMPORAL_CLI_PATH,
            env: process.env,
            onProgress: log,
          }).then((cli): TemporalSource => {
            if (cli.kind !== 'path')
              throw new Error('The drills need a Temporal CLI binary (they restart its server).');
            return { shape: 'dev', cli };
          })
        : Promise.all([
            resolveTemporalServer({ env: process.env, onProgress: log }),
            startPostgresCluster({ synchronousCommit: true }),
          ]).then(([binaries, pg]): TemporalSource => ({ shape: 'server', binaries, postgres: pg })),
      bundleWorkflows(),
    ]);
    const bundlePath = join(dir, 'workflows.js');
    writeFileSync(bundlePath, bundle.code);
    const port = await freePort();
    const temporal = await startTemporal(source, port, dir);
    return new Infra(dir, postgres, source, port, temporal, bundlePath);
  }

  get shape(): 'dev' | 'server' {
    return this.source.shape;
  }

  get temporalAddress(): string {
    return this.temporal.address;
  }

  async stopTemporal(): Promise<void> {
    await this.temporal.stop();
  }

  async startTemporal(): Promise<void> {
    this.temporal = await startTemporal(this.source, this.temporalPort, this.dir);
  }

  async close(): Promise<void> {
    // PostgreSQL first: stopping it is synchronous, so even a second Ctrl-C cannot leave it running.
    try {
      await this.postgres.stop();
    } catch (err) {
      console.error(err);
    }
    await this.temporal.stop().catch(() => {});
    if (this.source.shape === 'server') await this.source.postgres.stop().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Same port and same state (SQLite file, or the same two databases) on every start. */
async function startTemporal(source: TemporalSource, port: number, dir: string): Promise<DevServer> {
  if (source.shape === 'dev')
    return startDevServer({ cli: source.cli, port, dbFilename: join(dir, 'temporal.sqlite') });
  const server = await startTemporalServer({
    binaries: source.binaries,
    postgresUrl: source.postgres.url,
    port,
    // A restart binds the same ports: the membership recorded in the database is then its own.
    ...(source.ports ? { ports: source.ports } : {}),
    logFile: join(dir, 'temporal-server.log'),
  });
  source.ports = server.ports;
  return server;
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill(): void;
}

/** One drill's world: its own database, task queue, emulator, API and worker processes. */
export class DrillEnv {
  readonly workers: WorkerProcess[] = [];
  /** Workers that exited without being killed by the drill. */
  readonly unexpectedExits: string[] = [];
  private constructor(
    readonly infra: Infra,
    readonly name: string,
    readonly databaseUrl: string,
    readonly pool: Pool,
    readonly taskQueue: string,
    readonly emulator: Emulator,
    readonly apiUrl: string,
    readonly apiKey: string,
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async create(infra: Infra, name: string, agent: string = DRILL_AGENT): Promise<DrillEnv> {
    const suffix = randomBytes(4).toString('hex');
    const dbName = `drill_${name.replace(/\W/g, '_')}_${suffix}`;
    const admin = createPool(infra.postgres.url, 1);
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(infra.postgres.url);
    url.pathname = `/${dbName}`;
    const pool = createPool(url.toString(), 10);
    await migrate(pool);
    await pool.query(DRILL_TABLES);
    const emulator = await startEmulator();
    const taskQueue = `drill-${name}-${suffix}`;
    const connection = await Connection.connect({ address: infra.temporalAddress });
    const client = new Client({ connection, namespace: 'default' });
    const app = createApp({
      client,
      pool,
      taskQueue,
      agent,
      replyWaitMs: 30_000,
      log: pino({ level: 'silent' }),
      rateLimitPerMinute: 1_000_000,
    });
    const http = await listen(app, '127.0.0.1', 0, 2_000);
    const { key } = await createApiKey(pool, { tenant: DRILL_TENANT, name });
    const env = new DrillEnv(
      infra,
      name,
      url.toString(),
      pool,
      taskQueue,
      emulator,
      http.url,
      key,
      async () => {
        await http.stop();
        await connection.close();
        await emulator.close();
        await pool.end();
      },
    );
    return env;
  }

  /** Spawns a drill worker process and resolves once it polls; `extraEnv` e.g. slows its sender. */
  async startWorker(extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'drills/worker.ts'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: this.databaseUrl,
        TEMPORAL_ADDRESS: this.infra.temporalAddress,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_TASK_QUEUE: this.taskQueue,
        OPENAI_BASE_URL: this.emulator.baseUrl,
        DRILL_WORKFLOW_BUNDLE: this.infra.bundlePath,
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`drill worker not ready in 60 s:\n${output}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        output += d.toString();
        if (output.includes('drill worker ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`drill worker exited with code ${code}:\n${output}`));
      });
    });
    let killed = false;
    const worker: WorkerProcess = {
      child,
      output: () => output,
      kill: () => {
        killed = true;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
    // A worker that dies on its own is a finding: say so at once, with its last words.
    child.once('exit', (code, signal) => {
      if (!killed) {
        this.unexpectedExits.push(`worker ${child.pid} exited (${signal ?? code}): ${output.slice(-1500)}`);
        console.log(`  worker ${child.pid} exited on its own (${signal ?? code}):\n${output.slice(-3000)}`);
      }
    });
    this.workers.push(worker);
    await ready;
    return worker;
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.kill();
    await this.cleanup();
  }
}
