import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes.js';
import type { TemporalCli } from './cli.js';

/**
 * A Temporal dev server (`temporal server start-dev`) with Threadline's search attributes.
 *
 * With a CLI binary we spawn it ourselves, in its own process group: Ctrl-C in a terminal signals
 * the whole foreground group, and a server that died with the rest would leave the worker unable to
 * drain. Our shutdown stops the API, then the worker, then this server. Only the SDK-download
 * fallback goes through @temporalio/testing, which owns its child.
 */
export interface DevServer {
  address: string;
  namespace: string;
  uiUrl: string | undefined;
  client: Client;
  nativeConnection: NativeConnection;
  /** The server process, when we spawned it (not through the SDK download). */
  pid?: number;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli: TemporalCli;
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number;
  /** SQLite file to persist state across restarts; omit for in-memory. */
  dbFilename?: string;
  namespace?: string;
  ip?: string;
  /** Server log file; default: discarded. */
  logFile?: string;
  /** How long to wait for the server to answer. */
  startTimeoutMs?: number;
  /** Dynamic config values (`--dynamic-config-value KEY=VALUE`); default: DEV_SERVER_DYNAMIC_CONFIG. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const uiUrl = options.uiPort !== undefined ? `http://${ip}:${options.uiPort}` : undefined;
  if (options.cli.kind === 'sdk-download') return startThroughSdk(options, ip, namespace, uiUrl);

  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(options.port),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...(options.uiPort !== undefined ? ['--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
    ...ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliType(key.type)}`]),
    ...dynamicConfigArgs(options.dynamicConfig ?? DEV_SERVER_DYNAMIC_CONFIG),
  ];
  const logFd = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(options.cli.path, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  if (typeof logFd === 'number') closeSync(logFd);
  // If this process exits without stopping the server (an uncaught error), take the server along.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const address = `${ip}:${options.port}`;
  try {
    const { connection, nativeConnection } = await waitUntilServing(
      address,
      namespace,
      exited,
      options.startTimeoutMs ?? 60_000,
    );
    return {
      address,
      namespace,
      uiUrl,
      client: new Client({ connection, namespace }),
      nativeConnection,
      pid: child.pid!,
      stop: async () => {
        await Promise.allSettled([connection.close(), nativeConnection.close()]);
        await stopChild(child, exited);
        process.removeListener('exit', killOnExit);
      },
    };
  } catch (err) {
    await stopChild(child, exited);
    process.removeListener('exit', killOnExit);
    throw err;
  }
}

async function waitUntilServing(
  address: string,
  namespace: string,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<{ connection: Connection; nativeConnection: NativeConnection }> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `temporal server start-dev exited with code ${exitCode} (is port ${address} already in use?)`,
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        // The namespace is registered a moment after the frontend starts answering.
        await connection.workflowService.describeNamespace({ namespace });
        const nativeConnection = await NativeConnection.connect({ address });
        return { connection, nativeConnection };
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
    `The Temporal dev server at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

export async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The server's history service moves every scheduled workflow or activity task to matching through
 * a queue whose reader is rate-limited per shard (`history.transferProcessorMaxPollRPS`, default 20
 * reads/s with a burst of 20). The dev server has one shard, so a conversation taking turns back to
 * back waits up to 50 ms per task hop for the next read: that was most of a turn's latency
 * (docs/benchmarks.md, "Where the 40 ms per hop went"). Eager execution hands a workflow's first
 * activity (and a started workflow's first task) back in the same round trip.
 * docker-compose.yml sets the same values (config/temporal-dynamicconfig.yaml).
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, string | number | boolean> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  'system.enableActivityEagerExecution': true,
  'system.enableEagerWorkflowStart': true,
};

/** `--dynamic-config-value` takes JSON values: strings quoted, numbers and booleans bare. */
export function dynamicConfigArgs(values: Record<string, string | number | boolean>): string[] {
  return Object.entries(values).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

function cliType(type: string): string {
  // SDK names (KEYWORD, TEXT, ...) to the CLI's (Keyword, Text, ...).
  const names: Record<string, string> = {
    KEYWORD: 'Keyword',
    TEXT: 'Text',
    INT: 'Int',
    DOUBLE: 'Double',
    BOOL: 'Bool',
    DATETIME: 'Datetime',
    KEYWORD_LIST: 'KeywordList',
  };
  return names[type] ?? type;
}

async function startThroughSdk(
  options: DevServerOptions,
  ip: string,
  namespace: string,
  uiUrl: string | undefined,
): Promise<DevServer> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      ip,
      port: options.port,
      namespace,
      ui: options.uiPort !== undefined,
      ...(options.uiPort !== undefined ? { uiPort: options.uiPort } : {}),
      ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: dynamicConfigArgs(options.dynamicConfig ?? DEV_SERVER_DYNAMIC_CONFIG),
      log: { format: 'pretty', level: 'error' },
    },
  });
  return {
    address: env.address,
    namespace,
    uiUrl,
    client: env.client,
    nativeConnection: env.nativeConnection,
    stop: () => env.teardown(),
  };
}
