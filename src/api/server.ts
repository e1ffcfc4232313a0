import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { Express } from 'express';
import type { Routing } from '../agents/routing.js';
import { loadConfig, type Config } from '../config.js';
import { temporalConnectionOptions } from '../temporal/connection.js';
import { checkSearchAttributes } from '../temporal/searchAttributesCheck.js';
import { createLogger, type Logger } from '../logger.js';
import { migrate } from '../store/migrate.js';
import { createPool } from '../store/pool.js';
import { tracedClient } from '../telemetry/temporal.js';
import { startTracing } from '../telemetry/tracing.js';
import { createApp, type AppLocals } from './app.js';
import { onShutdownSignal } from '../shutdownSignal.js';

/**
 * Listens and returns a stop function that drains: new connections are refused, /readyz turns 503,
 * event streams end, in-flight requests finish; after `graceMs` whatever is left is cut.
 */
export async function listen(
  app: Express,
  host: string,
  port: number,
  graceMs = 10_000,
): Promise<{ server: Server; url: string; stop(): Promise<void> }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    url: `http://${host}:${actualPort}`,
    stop: () =>
      new Promise<void>((resolve) => {
        (app.locals as Partial<AppLocals>).closing?.abort();
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

/** `npm run api` (and `threadline api`): the API against an existing Temporal server and PostgreSQL. */
export async function runApi(config: Config, log: Logger, routing?: Routing): Promise<void> {
  if (!config.database.url)
    throw new Error('DATABASE_URL is required for a standalone API (npm run dev embeds one).');
  const pool = createPool(config.database.url, config.database.poolSize);
  await migrate(pool);
  const tracing = startTracing(config.telemetry, 'threadline-api');
  const connection = await Connection.connect(temporalConnectionOptions(config));
  await checkSearchAttributes(connection, config.temporal.namespace);
  const untraced = new Client({ connection, namespace: config.temporal.namespace });
  const client = tracing ? tracedClient(untraced) : untraced;
  const app = createApp({ ...appOptions(config), client, pool, routing: routing ?? config.routing, log });
  const http = await listen(app, config.api.host, config.api.port, config.api.shutdownGraceMs);
  log.info({ url: http.url }, 'api listening');
  const shutdown = async () => {
    log.info('draining requests');
    await http.stop();
    await connection.close();
    await pool.end();
    await tracing?.shutdown();
    log.info('api stopped');
  };
  onShutdownSignal(() => void shutdown());
}

/** The createApp options that come straight from config. */
export function appOptions(config: Config) {
  return {
    taskQueue: config.temporal.taskQueue,
    replyWaitMs: config.api.replyWaitMs,
    acceptWaitMs: config.api.acceptWaitMs,
    handoverLimit: config.api.handoverLimit,
    adminApiKey: config.api.adminApiKey,
    rateLimitPerMinute: config.api.rateLimitPerMinute,
    metricsToken: config.api.metricsToken,
    corsOrigins: config.api.corsOrigins,
    bodyLimitBytes: config.api.bodyLimitBytes,
    eventsPollMs: config.api.eventsPollMs,
    channels: config.channels,
    pages: { temporalUiUrl: config.temporal.uiUrl, namespace: config.temporal.namespace },
    tracing: Boolean(config.telemetry.otlpEndpoint),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel, 'api');
  runApi(config, log).catch((err: unknown) => {
    log.error({ err }, 'api failed to start');
    process.exit(1);
  });
}
