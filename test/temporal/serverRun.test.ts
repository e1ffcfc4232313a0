import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NativeConnection } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultAgents } from '../../src/agents/registry.js';
import { createApiKey } from '../../src/api/apiKeys.js';
import { createApp } from '../../src/api/app.js';
import { listen } from '../../src/api/server.js';
import { createOpenAIClient } from '../../src/openaiClient.js';
import {
  resolveTemporalServer,
  startTemporalServer,
  type TemporalServer,
} from '../../src/temporal/server.js';
import { TENANT } from '../../src/workflows/searchAttributes.js';
import { createWorker } from '../../src/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';

/**
 * The production shape for real: Temporal Server 1.29.1 on the run's PostgreSQL (its own two
 * databases), started, set up and stopped by src/temporal/server.ts, answering a conversation turn
 * through the API and a worker, and keeping it across a restart on the same databases.
 */
let temporal: TemporalServer;
let db: TestDatabase;
const prefix = `temporal_${randomBytes(4).toString('hex')}`;
// One task queue for the file: a conversation's workflow stays on the queue it started on.
const taskQueue = `prod-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const binaries = await resolveTemporalServer({ env: process.env, onProgress: console.log });
  temporal = await startTemporalServer({
    binaries,
    postgresUrl: inject('postgresAdminUrl'),
    databasePrefix: prefix,
  });
  db = await createTestDatabase();
}, 600_000);
afterAll(async () => {
  await temporal?.stop();
  await db?.drop();
});

async function withStack<T>(fn: (api: string, key: string) => Promise<T>): Promise<T> {
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createWorker({
    connection,
    namespace: temporal.namespace,
    taskQueue,
    pool: db.pool,
    openai: createOpenAIClient({ apiKey: 'test-key', baseUrl: inject('emulatorBaseUrl') }),
    agents: defaultAgents('gpt-5-mini'),
    workflowBundle: { code: readFileSync(inject('workflowBundlePath'), 'utf8') },
  });
  const running = worker.run();
  const app = createApp({
    client: temporal.client,
    pool: db.pool,
    taskQueue,
    agent: 'assistant',
    replyWaitMs: 30_000,
    log: pino({ level: 'silent' }),
  });
  const http = await listen(app, '127.0.0.1', 0, 2_000);
  try {
    const { key } = await createApiKey(db.pool, { tenant: 'acme', name: 'prod' });
    return await fn(http.url, key);
  } finally {
    await http.stop();
    worker.shutdown();
    await running;
    await connection.close();
  }
}

const send = (api: string, key: string, id: string, text: string) =>
  fetch(`${api}/v1/conversations/web/${id}/messages?wait=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });

describe('Temporal Server on PostgreSQL (THREADLINE_TEMPORAL=server)', () => {
  it('answers a conversation turn, with the search attributes indexed in its PostgreSQL visibility store', async () => {
    const id = randomUUID();
    const body = await withStack(async (api, key) => {
      const res = await send(api, key, id, 'Hello production');
      expect(res.status).toBe(200);
      return (await res.json()) as {
        workflowId: string;
        reply: { status: string; turn: number; text: string };
      };
    });
    expect(body.reply).toMatchObject({ status: 'answered', turn: 1 });
    expect(body.reply.text).toContain('You said: "Hello production"');
    const description = await temporal.client.workflow.getHandle(body.workflowId).describe();
    expect(description.typedSearchAttributes.get(TENANT)).toBe('acme');
    // Visibility is written asynchronously: the conversation shows up in a query by tenant.
    await expect
      .poll(
        async () =>
          (
            await temporal.client.workflow.count(
              `WorkflowId = '${body.workflowId}' AND ThreadlineTenant = 'acme'`,
            )
          ).count,
        { timeout: 15_000 },
      )
      .toBe(1);
  });

  it('keeps conversations across a server restart on the same databases', async () => {
    const id = randomUUID();
    await withStack(async (api, key) => expect((await send(api, key, id, 'one')).status).toBe(200));
    await temporal.stop();
    const binaries = await resolveTemporalServer({ env: process.env });
    const started = Date.now();
    temporal = await startTemporalServer({
      ports: temporal.ports,
      binaries,
      postgresUrl: inject('postgresAdminUrl'),
      databasePrefix: prefix,
    });
    const body = await withStack(
      async (api, key) => (await (await send(api, key, id, 'two')).json()) as { reply: { turn: number } },
    );
    expect(body.reply?.turn, JSON.stringify(body)).toBe(2);
    // Same addresses, so the cluster membership it finds in the database is its own: no join wait.
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);
});
