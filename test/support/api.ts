import type { Client } from '@temporalio/client';
import { pino } from 'pino';
import type { ChannelSender } from '../../src/activities/delivery.js';
import type { AgentRegistry } from '../../src/agents/registry.js';
import { createApp, type AppDeps } from '../../src/api/app.js';
import { createApiKey } from '../../src/api/apiKeys.js';
import { listen } from '../../src/api/server.js';
import {
  createTestDatabase,
  startTestWorker,
  testClient,
  uniqueTaskQueue,
  type RunningWorker,
  type TestDatabase,
} from './env.js';

export const ADMIN_KEY = 'admin-key-for-tests-0123456789abcdef';

/** One database, worker and client per test file, and as many API instances as a test wants. */
export interface ApiEnv {
  db: TestDatabase;
  client: Client;
  taskQueue: string;
  worker: RunningWorker;
  /** Starts an API on a free port; options override the defaults. Returns its base URL. */
  start(options?: Partial<AppDeps>): Promise<string>;
  /** A fresh API key for `tenant`. */
  keyFor(tenant: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startApiEnv(
  options: {
    senders?: ReadonlyMap<string, ChannelSender>;
    openaiBaseUrl?: string;
    agents?: AgentRegistry;
    media?: Parameters<typeof startTestWorker>[0]['media'];
  } = {},
): Promise<ApiEnv> {
  const db = await createTestDatabase();
  const taskQueue = uniqueTaskQueue('api');
  const worker = await startTestWorker({
    pool: db.pool,
    taskQueue,
    ...(options.senders ? { senders: options.senders } : {}),
    ...(options.openaiBaseUrl ? { openaiBaseUrl: options.openaiBaseUrl } : {}),
    ...(options.agents ? { agents: options.agents } : {}),
    ...(options.media ? { media: options.media } : {}),
  });
  const { client, close } = await testClient();
  const servers: { stop(): Promise<void> }[] = [];
  return {
    db,
    client,
    taskQueue,
    worker,
    async start(overrides = {}) {
      const app = createApp({
        client,
        pool: db.pool,
        taskQueue,
        agent: 'assistant',
        replyWaitMs: 30_000,
        log: pino({ level: 'silent' }),
        adminApiKey: ADMIN_KEY,
        eventsPollMs: 50,
        ...overrides,
      });
      const http = await listen(app, '127.0.0.1', 0, 2_000);
      servers.push(http);
      return http.url;
    },
    async keyFor(tenant) {
      return (await createApiKey(db.pool, { tenant, name: 'test' })).key;
    },
    async stop() {
      for (const s of servers) await s.stop();
      await worker.stop();
      await close();
      await db.drop();
    },
  };
}

// Response bodies are checked field by field; `any` keeps those assertions readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const json = (res: Response): Promise<any> => res.json();

export function request(
  method: string,
  url: string,
  key: string | null,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
}
