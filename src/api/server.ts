import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DEFAULT_AGENT } from '../agents/registry.js';
import { loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { createApp } from './app.js';

/** Listens and returns a stop function that drains in-flight requests before closing. */
export async function listen(
  app: ReturnType<typeof createApp>,
  host: string,
  port: number,
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
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function main(config: Config, log: Logger): Promise<void> {
  const connection = await Connection.connect({
    address: config.temporal.address ?? 'localhost:7233',
    ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey, tls: true } : {}),
  });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({
    client,
    taskQueue: config.temporal.taskQueue,
    agent: DEFAULT_AGENT,
    replyWaitMs: config.api.replyWaitMs,
    log,
  });
  const http = await listen(app, config.api.host, config.api.port);
  log.info({ url: http.url }, 'api listening');
  const shutdown = async () => {
    log.info('draining requests');
    await http.stop();
    await connection.close();
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel, 'api');
  main(config, log).catch((err: unknown) => {
    log.error({ err }, 'api failed to start');
    process.exit(1);
  });
}
