import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { listen } from '../../src/api/server.js';
import { stateQuery } from '../../src/workflows/messages.js';
import {
  createTestDatabase,
  startTestWorker,
  testClient,
  uniqueTaskQueue,
  type RunningWorker,
  type TestDatabase,
} from '../support/env.js';

let db: TestDatabase;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
const servers: { url: string; stop(): Promise<void> }[] = [];
const taskQueue = uniqueTaskQueue('api');

async function startApi(replyWaitMs = 30_000): Promise<string> {
  const app = createApp({
    client,
    taskQueue,
    agent: 'assistant',
    replyWaitMs,
    log: pino({ level: 'silent' }),
  });
  const http = await listen(app, '127.0.0.1', 0);
  servers.push(http);
  return http.url;
}

beforeAll(async () => {
  db = await createTestDatabase();
  worker = await startTestWorker({ pool: db.pool, taskQueue });
  ({ client, close: closeClient } = await testClient());
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  await worker?.stop();
  await closeClient?.();
  await db?.drop();
});

// Response bodies are checked field by field below; `any` keeps those assertions readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: Response): Promise<any> => res.json();

function post(url: string, body: unknown, init: RequestInit = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

describe('POST /v1/conversations/{channel}/{id}/messages', () => {
  it('?wait=true answers with the reply of the turn', async () => {
    const base = await startApi();
    const id = randomUUID();
    const res = await post(`${base}/v1/conversations/web/${id}/messages?wait=true`, {
      text: 'Hi there',
      id: 'm-1',
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      messageId: 'm-1',
      workflowId: `conversation:default:web:${id}`,
      reply: { status: 'answered', turn: 1 },
    });
    expect(body.reply.text).toContain('You said: "Hi there"');
  });

  it('without wait accepts with 202 and the message is answered in the background', async () => {
    const base = await startApi();
    const id = randomUUID();
    const res = await post(`${base}/v1/conversations/whatsapp/${id}/messages`, { text: 'fire and forget' });
    expect(res.status).toBe(202);
    const { workflowId, messageId } = await json(res);
    expect(messageId).toMatch(/^[0-9a-f-]{36}$/);
    const handle = client.workflow.getHandle(workflowId);
    await expect.poll(async () => (await handle.query(stateQuery)).turns, { timeout: 20_000 }).toBe(1);
  });

  it('past the reply wait answers 202 pending, and the turn still completes', async () => {
    const base = await startApi(1);
    const id = randomUUID();
    const res = await post(`${base}/v1/conversations/web/${id}/messages?wait=true`, { text: 'slow' });
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body.status).toBe('pending');
    const handle = client.workflow.getHandle(body.workflowId);
    await expect.poll(async () => (await handle.query(stateQuery)).turns, { timeout: 20_000 }).toBe(1);
  });

  it('ids with reserved characters are safe', async () => {
    const base = await startApi();
    const res = await post(
      `${base}/v1/conversations/web/${encodeURIComponent('+49 151:a/b')}/messages?wait=true`,
      {
        text: 'hello',
      },
    );
    expect(res.status).toBe(200);
    expect((await json(res)).workflowId).toBe('conversation:default:web:%2B49%20151%3Aa%2Fb');
  });

  it.each([
    ['a missing text', { txt: 'x' }, 'text'],
    ['an empty text', { text: '   ' }, 'text'],
    ['a wrong type', { text: 'x', metadata: { a: 1 } }, 'metadata.a'],
  ])('rejects %s with 400 naming the field', async (_case, payload, param) => {
    const base = await startApi();
    const res = await post(`${base}/v1/conversations/web/x/messages`, payload);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(body.error.message).toContain(param);
  });

  it('rejects malformed JSON in the OpenAI error envelope, without a stack', async () => {
    const base = await startApi();
    const res = await post(`${base}/v1/conversations/web/x/messages`, '{"text": ');
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'invalid_json',
        message: 'The body is not valid JSON.',
        param: null,
      },
    });
    expect(text).not.toMatch(/at .*\.js:\d+/);
  });

  it('answers 413 for an oversize body and 404 in the envelope for unknown routes', async () => {
    const base = await startApi();
    const big = await post(`${base}/v1/conversations/web/x/messages`, { text: 'x'.repeat(300_000) });
    expect(big.status).toBe(413);
    expect((await json(big)).error.code).toBe('body_too_large');
    const missing = await fetch(`${base}/v1/nope`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.type).toBe('invalid_request_error');
  });

  it('GET /healthz', async () => {
    const base = await startApi();
    expect(await json(await fetch(`${base}/healthz`))).toEqual({ status: 'ok' });
  });
});
