import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { NativeConnection } from '@temporalio/worker';
import pg from 'pg';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes.js';
import { findOnPath, goInstall, TemporalCliError, userCacheDir } from './cli.js';
import { stopChild, type DevServer } from './devServer.js';

/**
 * Temporal as docker-compose.yml runs it, without Docker: the Temporal Server binary (all four
 * services in one process) on PostgreSQL, its schema set up with Temporal's own SQL tool, the
 * namespace and Threadline's search attributes registered the way the compose file's
 * `temporal-setup` job does. `npm run dev`, the bench and the drills use it with
 * THREADLINE_TEMPORAL=server; test/deploy/topology.test.ts runs the whole compose topology on it.
 *
 * The binaries are found or built like the CLI (src/temporal/cli.ts): PATH, the user cache, then
 * `go install` into the cache. The SQL tool embeds the schema files, so nothing else is needed.
 */

/** The Server release docker-compose.yml pins (temporalio/auto-setup:1.29.1), and the CLI bundles. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const SERVER_EXE = 'temporal-server';
export const SQL_TOOL_EXE = 'temporal-sql-tool';

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  source: 'PATH' | 'cache' | 'go-install';
}

export function cachedServerDir(
  env: Record<string, string | undefined>,
  version = TEMPORAL_SERVER_VERSION,
): string {
  return join(userCacheDir(env), 'threadline', 'temporal-server', version);
}

export function missingServerMessage(): string {
  return [
    'No Temporal Server found (THREADLINE_TEMPORAL=server needs temporal-server and temporal-sql-tool). Install one of these, then run again:',
    `  - Go 1.25 or newer (https://go.dev/dl/): Threadline then builds both once (about 3 minutes) with`,
    `      go install ${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION} ${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
    `  - or the release binaries temporal-server and temporal-sql-tool ${TEMPORAL_SERVER_VERSION} on PATH`,
    '  - or unset THREADLINE_TEMPORAL to use the dev server.',
  ].join('\n');
}

/** PATH (both binaries), then the cache, then `go install` into the cache, else an error saying what to install. */
export async function resolveTemporalServer(options: {
  env: Record<string, string | undefined>;
  onProgress?: (line: string) => void;
}): Promise<TemporalServerBinaries> {
  const { env } = options;
  const server = findOnPath(SERVER_EXE, env.PATH);
  const sqlTool = findOnPath(SQL_TOOL_EXE, env.PATH);
  if (server && sqlTool) return { server, sqlTool, source: 'PATH' };

  const dir = cachedServerDir(env);
  const cached = { server: join(dir, SERVER_EXE), sqlTool: join(dir, SQL_TOOL_EXE) };
  if (findOnPath(SERVER_EXE, dir) && findOnPath(SQL_TOOL_EXE, dir)) return { ...cached, source: 'cache' };

  const go = findOnPath('go', env.PATH);
  if (!go) throw new TemporalCliError(missingServerMessage());
  await goInstall(
    go,
    {
      label: `Temporal Server ${TEMPORAL_SERVER_VERSION} and its SQL tool`,
      packages: [
        `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      binaries: [
        { built: 'server', cached: SERVER_EXE },
        { built: 'sql', cached: SQL_TOOL_EXE },
      ],
      dir,
      hint: missingServerMessage(),
    },
    env,
    options.onProgress ?? (() => {}),
  );
  return { ...cached, source: 'go-install' };
}

/** Every port the four services bind: gRPC and membership (ringpop) each, plus the frontend's HTTP API. */
export interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export interface ServerConfigOptions {
  ip: string;
  ports: ServerPorts;
  /** Temporal's PostgreSQL: the role needs no more than its two databases. */
  postgres: { host: string; port: number; user: string; password: string };
  databases: { main: string; visibility: string };
  /** Fixed for the cluster's life: it cannot change once the databases hold data. */
  numHistoryShards: number;
  dynamicConfigPath: string;
  /** Connections per service to the main database (four services share the process). */
  maxConns: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * The server's static config (what the auto-setup image renders from its template), as a plain
 * object; YAML is a superset of JSON, so it is written as JSON and the server reads it as YAML.
 */
export function serverConfig(o: ServerConfigOptions): Record<string, unknown> {
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${o.postgres.host}:${o.postgres.port}`,
      connectProtocol: 'tcp',
      user: o.postgres.user,
      password: o.postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: o.ip, ...extra },
  });
  return {
    log: { stdout: true, level: o.logLevel },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: o.numHistoryShards,
      datastores: {
        'postgres-default': sql(o.databases.main, o.maxConns),
        'postgres-visibility': sql(o.databases.visibility, Math.max(2, Math.ceil(o.maxConns / 4))),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: o.ip } },
    services: {
      frontend: service(o.ports.frontend, o.ports.frontendMembership, { httpPort: o.ports.frontendHttp }),
      history: service(o.ports.history, o.ports.historyMembership),
      matching: service(o.ports.matching, o.ports.matchingMembership),
      worker: service(o.ports.worker, o.ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `${o.ip}:${o.ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: o.dynamicConfigPath, pollInterval: '10s' },
  };
}

/**
 * Dynamic config: the server's defaults, except that a namespace registered or given search
 * attributes a moment ago becomes usable within a second instead of ten (the namespace cache
 * refresh), so a fresh cluster is ready when start() returns. It is one small read a second.
 */
export function dynamicConfig(): Record<string, { value: unknown }[]> {
  return {
    'system.namespaceCacheRefreshInterval': [{ value: '1s' }],
    'limit.maxIDLength': [{ value: 255 }],
  };
}

/**
 * Where a database stands: absent; present but empty (the postgres image creates a database named
 * after POSTGRES_USER); or with Temporal's schema_version table (a restart or an upgrade).
 */
export type DatabaseState = 'absent' | 'empty' | 'versioned';

/** The sql tool's commands that create and migrate one database (what auto-setup runs). */
export function schemaCommands(
  conn: { host: string; port: number; user: string; password: string },
  database: string,
  schema: 'temporal' | 'visibility',
  state: DatabaseState,
): string[][] {
  const base = [
    '--plugin',
    'postgres12',
    '--ep',
    conn.host,
    '-p',
    String(conn.port),
    '-u',
    conn.user,
    ...(conn.password ? ['--pw', conn.password] : []),
    '--db',
    database,
  ];
  return [
    ...(state === 'absent' ? [[...base, 'create-database']] : []),
    ...(state !== 'versioned' ? [[...base, 'setup-schema', '-v', '0.0']] : []),
    // Idempotent: brings the database up to this release's schema (the files are embedded in the tool).
    [...base, 'update-schema', '--schema-name', `postgresql/v12/${schema}`],
  ];
}

/**
 * Distinct free ports, held open together so that none is handed out twice. Below 32768: Temporal
 * stores membership ports in a smallint column (a port from the ephemeral range makes the server
 * exit with "value out of range for type smallint").
 */
export async function freePorts(count: number, ip = '127.0.0.1'): Promise<number[]> {
  const held: ReturnType<typeof createServer>[] = [];
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < count * 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (ports.includes(port)) continue;
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, ip, () => resolve(true));
    });
    if (ok) {
      held.push(server);
      ports.push(port);
    }
  }
  await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  if (ports.length < count) throw new Error(`found only ${ports.length} of ${count} free ports below 32768`);
  return ports;
}

export interface TemporalServerOptions {
  binaries: TemporalServerBinaries;
  /** A PostgreSQL role that may create databases (e.g. the throwaway cluster's superuser). */
  postgresUrl: string;
  /** Database names: `<prefix>` and `<prefix>_visibility`. Reusing a prefix keeps the cluster's state. */
  databasePrefix?: string;
  /** The frontend's gRPC port; the other ports are free ones. */
  port?: number;
  /**
   * All ports, to restart on the ones a previous start used (`server.ports`): the cluster membership
   * in the database names hosts by address, and a new address would wait for the old one to expire.
   */
  ports?: ServerPorts;
  /**
   * A file that keeps the ports across starts (`npm run dev` keeps it in its data directory): read
   * when all its ports are free, written after a start.
   */
  portsFile?: string;
  ip?: string;
  namespace?: string;
  numHistoryShards?: number;
  /** Server log file; default: discarded. */
  logFile?: string;
  startTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

export type TemporalServer = DevServer & {
  /** The server process (its CPU accounting is in /proc/<pid>/stat). */
  pid: number;
  ports: ServerPorts;
  databases: { main: string; visibility: string };
};

export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const progress = options.onProgress ?? (() => {});
  const prefix = options.databasePrefix ?? 'temporal';
  const databases = { main: prefix, visibility: `${prefix}_visibility` };
  const url = new URL(options.postgresUrl);
  const conn = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'),
    password: decodeURIComponent(url.password),
  };

  const started = Date.now();
  await setUpDatabases(options.binaries.sqlTool, options.postgresUrl, conn, databases);
  progress(
    `Temporal databases ${databases.main}, ${databases.visibility} ready (${Date.now() - started} ms)`,
  );

  const kept =
    options.ports ?? (options.portsFile ? await keptPorts(options.portsFile, ip, options.port) : undefined);
  const free = kept ? [] : await freePorts(9, ip);
  const ports: ServerPorts = kept ?? {
    frontend: options.port ?? free[0]!,
    frontendHttp: free[1]!,
    frontendMembership: free[2]!,
    history: free[3]!,
    historyMembership: free[4]!,
    matching: free[5]!,
    matchingMembership: free[6]!,
    worker: free[7]!,
    workerMembership: free[8]!,
  };
  if (options.portsFile) writeFileSync(options.portsFile, JSON.stringify(ports));
  const dir = mkdtempSync(join(tmpdir(), 'threadline-temporal-'));
  const dynamicConfigPath = join(dir, 'dynamicconfig.yaml');
  writeFileSync(dynamicConfigPath, JSON.stringify(dynamicConfig(), null, 2));
  mkdirSync(join(dir, 'config'));
  writeFileSync(
    join(dir, 'config', 'threadline.yaml'),
    JSON.stringify(
      serverConfig({
        ip,
        ports,
        postgres: conn,
        databases,
        numHistoryShards: options.numHistoryShards ?? 4,
        dynamicConfigPath,
        maxConns: 20,
        logLevel: 'warn',
      }),
      null,
      2,
    ),
  );

  // Kept beside the config unless asked elsewhere: its tail explains a server that exits at start.
  const logFile = options.logFile ?? join(dir, 'server.log');
  const logFd = openSync(logFile, 'a');
  // Its own process group, like the dev server: Ctrl-C must not take it down before the worker drains.
  const child = spawn(
    options.binaries.server,
    ['--root', dir, '--config', 'config', '--env', 'threadline', '--allow-no-auth', 'start'],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const cleanup = async () => {
    await stopChild(child, exited);
    process.removeListener('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };

  const address = `${ip}:${ports.frontend}`;
  try {
    const connection = await waitForFrontend(address, exited, options.startTimeoutMs ?? 90_000, logFile);
    try {
      await registerNamespace(connection, namespace);
      await waitForSearchAttributes(connection, namespace, options.startTimeoutMs ?? 90_000);
      const nativeConnection = await NativeConnection.connect({ address });
      progress(
        `Temporal Server ${TEMPORAL_SERVER_VERSION} serving at ${address} (${Date.now() - started} ms)`,
      );
      return {
        address,
        namespace,
        uiUrl: undefined,
        client: new Client({ connection, namespace }),
        nativeConnection,
        pid: child.pid!,
        ports,
        databases,
        stop: async () => {
          await Promise.allSettled([connection.close(), nativeConnection.close()]);
          await cleanup();
        },
      };
    } catch (err) {
      await connection.close();
      throw err;
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The ports a previous start wrote, if the frontend port still matches and all are free. */
async function keptPorts(
  file: string,
  ip: string,
  frontend: number | undefined,
): Promise<ServerPorts | undefined> {
  let ports: ServerPorts;
  try {
    ports = JSON.parse(readFileSync(file, 'utf8')) as ServerPorts;
  } catch {
    return undefined;
  }
  if (frontend !== undefined && ports.frontend !== frontend) return undefined;
  const free = await Promise.all(
    Object.values(ports).map(
      (port) =>
        new Promise<boolean>((resolve) => {
          const server = createServer();
          server.once('error', () => resolve(false));
          server.listen(port, ip, () => server.close(() => resolve(true)));
        }),
    ),
  );
  return free.every(Boolean) ? ports : undefined;
}

async function setUpDatabases(
  sqlTool: string,
  postgresUrl: string,
  conn: { host: string; port: number; user: string; password: string },
  databases: { main: string; visibility: string },
): Promise<void> {
  const state = async (database: string): Promise<DatabaseState> => {
    const url = new URL(postgresUrl);
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (!rowCount) return 'absent';
    } finally {
      await admin.end();
    }
    url.pathname = `/${database}`;
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    try {
      const { rows } = await db.query<{ t: string | null }>(
        `SELECT to_regclass('schema_version')::text AS t`,
      );
      return rows[0]?.t ? 'versioned' : 'empty';
    } finally {
      await db.end();
    }
  };
  for (const [database, schema] of [
    [databases.main, 'temporal'],
    [databases.visibility, 'visibility'],
  ] as const) {
    for (const args of schemaCommands(conn, database, schema, await state(database))) {
      const out = spawnSync(sqlTool, args, { encoding: 'utf8', timeout: 120_000 });
      if (out.status !== 0) {
        // The password is never echoed: only the subcommand and the tool's own output.
        throw new Error(
          `temporal-sql-tool ${args.slice(args.indexOf(database) + 1).join(' ')} on ${database} failed ` +
            `(exit ${out.status}):\n${(out.stdout + out.stderr).slice(-2000)}`,
        );
      }
    }
  }
}

async function waitForFrontend(
  address: string,
  exited: Promise<number | null>,
  timeoutMs: number,
  logFile: string,
): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitCode !== undefined)
      throw new Error(
        `temporal-server exited with code ${exitCode} before serving; the end of ${logFile}:\n` +
          readFileSync(logFile, 'utf8').slice(-3000),
      );
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `Temporal Server at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

const ALREADY_EXISTS = 6;

/** What `temporal operator namespace create` does in the auto-setup image; an existing namespace is fine. */
async function registerNamespace(connection: Connection, namespace: string): Promise<void> {
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
  } catch (err) {
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw err;
  }
}

// temporal.api.enums.v1.IndexedValueType
const INDEXED_VALUE_TYPE: Record<string, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

/**
 * Adds Threadline's search attributes (the compose file's temporal-setup job), then waits until a
 * visibility query naming all of them is accepted: the frontend has them in its namespace cache.
 */
async function waitForSearchAttributes(
  connection: Connection,
  namespace: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const query = ALL_SEARCH_ATTRIBUTES.map(
    (k) => `${k.name} = ${k.type === 'BOOL' ? 'true' : "'probe'"}`,
  ).join(' AND ');
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          ALL_SEARCH_ATTRIBUTES.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]!]),
        ),
      });
    } catch (err) {
      // Already there (a restart), or the namespace not yet in the cache: the query below decides.
      lastError = err;
    }
    try {
      await connection.workflowService.countWorkflowExecutions({ namespace, query });
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `Temporal Server did not accept Threadline's search attributes within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

// `tsx src/temporal/server.ts`: resolve (building if needed) and print the two paths. .ci/run uses it
// to warm the cache with visible progress before the tests start.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  resolveTemporalServer({ env: process.env, onProgress: (line) => console.error(line) }).then(
    (b) => {
      console.error(`Temporal Server (${b.source}): ${b.server}`);
      console.log(b.server);
      console.log(b.sqlTool);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
