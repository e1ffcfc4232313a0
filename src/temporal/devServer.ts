import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes.js';
import type { TemporalCli } from './cli.js';

/**
 * A Temporal dev server (`temporal server start-dev`) run through @temporalio/testing's local
 * environment, which owns the child process and stops it on teardown.
 */
export interface DevServer {
  address: string;
  namespace: string;
  uiUrl: string | undefined;
  client: Client;
  nativeConnection: NativeConnection;
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
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable:
        options.cli.kind === 'path'
          ? { type: 'existing-path', path: options.cli.path }
          : { type: 'cached-download' },
      ip,
      port: options.port,
      namespace,
      ui: options.uiPort !== undefined,
      ...(options.uiPort !== undefined ? { uiPort: options.uiPort } : {}),
      ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
  return {
    address: env.address,
    namespace,
    uiUrl: options.uiPort !== undefined ? `http://${ip}:${options.uiPort}` : undefined,
    client: env.client,
    nativeConnection: env.nativeConnection,
    stop: () => env.teardown(),
  };
}
