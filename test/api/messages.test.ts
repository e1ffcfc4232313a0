import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateQuery } from '../../src/workflows/messages.js';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';
import { startTestWorker, uniqueTaskQueue } from '../support/env.js';

let env: ApiEnv;
let base: string;
let key: string;
beforeAll(async () => {
  env = await startApiEnv();
  base = await env.start();
  key = await env.keyFor('acme');
});
afterAll(() => env?.stop());

const post = (url: string, body: unknown, k: string | null = key) => request('POST', url, k, body);

describe('POST /v1/conversations/{channel}/{id}/messages', () => {
  it('?wait=true answers with the reply of the turn, in the key’s tenant', async () => {
    const id = randomUUID();
    const res = await post(`${base}/v1/conversations/web/${id}/messages?wait=true`, {
      text: 'Hi there',
      id: 'm-1',
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      messageId: 'm-1',
      workflowId: `conversation:acme:web:${id}`,
      reply: { status: 'answered', turn: 1 },
    });
    expect(body.reply.text).toContain('You said: "Hi there"');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('without wait accepts with 202 and the message is answered in the background', async () => {
    const id = randomUUID();
    const res = await post(`${base}/v1/conversations/whatsapp/${id}/messages`, { text: 'fire and forget' });
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body).toMatchObject({
      status: 'accepted',
      links: { items: `/v1/conversations/whatsapp/${id}/items` },
    });
    const handle = env.client.workflow.getHandle(body.workflowId);
    await expect.poll(async () => (await handle.query(stateQuery)).turns, { timeout: 20_000 }).toBe(1);
  });

  it('past the reply wait answers 202 pending, and the turn still completes', async () => {
    const slow = await env.start({ replyWaitMs: 1 });
    const id = randomUUID();
    const res = await post(`${slow}/v1/conversations/web/${id}/messages?wait=true`, { text: 'slow' });
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body.status).toBe('pending');
    const handle = env.client.workflow.getHandle(body.workflowId);
    await expect.poll(async () => (await handle.query(stateQuery)).turns, { timeout: 20_000 }).toBe(1);
  });

  it('a message no worker takes in time gets a 503 to retry with the same id, never a 202, and the retry is answered once', async () => {
    // Nothing polls this task queue yet: the update is never accepted, as under overload.
    const taskQueue = uniqueTaskQueue('unpolled');
    const stalled = await env.start({ taskQueue, replyWaitMs: 300, acceptWaitMs: 1_000 });
    const id = randomUUID();
    const url = `${stalled}/v1/conversations/web/${id}/messages?wait=true`;
    const res = await post(url, { text: 'are you there?', id: 'm-stalled' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const body = await json(res);
    expect(body.error).toMatchObject({ code: 'message_not_taken' });
    expect(body.error.message).toMatch(/same id/);

    const worker = await startTestWorker({ pool: env.db.pool, taskQueue });
    try {
      // Through an API that waits the default 30 s: a new worker's first turn may take over 300 ms.
      const patient = await env.start({ taskQueue });
      const retry = await post(`${patient}/v1/conversations/web/${id}/messages?wait=true`, {
        text: 'are you there?',
        id: 'm-stalled',
      });
      expect(retry.status).toBe(200);
      expect((await json(retry)).reply).toMatchObject({ status: 'answered', turn: 1 });
      const { rows } = await env.db.pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM inbound_messages WHERE conversation_id = $1',
        [`conversation:acme:web:${id}`],
      );
      expect(Number(rows[0]!.n)).toBe(1);
    } finally {
      await worker.stop();
    }
  });

  it('with MESSAGE_HANDOVER_LIMIT=1, concurrent ?wait=true messages are each handed over in turn and answered', async () => {
    // A slot leaked by any of them would hold the rest in the queue until the accept wait: a 503.
    const queued = await env.start({ handoverLimit: 1, acceptWaitMs: 5_000 });
    const ids = Array.from({ length: 6 }, () => randomUUID());
    const answers = await Promise.all(
      ids.map((id, i) =>
        post(`${queued}/v1/conversations/web/${id}/messages?wait=true`, { text: `queued ${i}` }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(ids.map(() => 200));
    const bodies = await Promise.all(answers.map((r) => json(r)));
    expect(bodies.map((b) => b.reply.text)).toEqual(
      ids.map((_, i) => expect.stringContaining(`queued ${i}`)),
    );
    // A second message to each, after the first: still one at a time, still answered.
    const again = await Promise.all(
      ids.map((id) => post(`${queued}/v1/conversations/web/${id}/messages?wait=true`, { text: 'again' })),
    );
    expect(again.map((r) => r.status)).toEqual(ids.map(() => 200));
  });

  it('ids with reserved characters and unicode are safe', async () => {
    const res = await post(
      `${base}/v1/conversations/web/${encodeURIComponent('+49 151:a/b ☕')}/messages?wait=true`,
      {
        text: 'hello ☕ 👋',
      },
    );
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.workflowId).toBe(`conversation:acme:web:${encodeURIComponent('+49 151:a/b ☕')}`);
    expect(body.reply.text).toContain('hello ☕ 👋');
  });

  it.each([
    ['a NUL', '%00'],
    ['a newline', 'a%0Ab'],
    ['an escape', '%1B%5B31m'],
  ])('rejects %s in a path id with 400', async (_case, id) => {
    const res = await post(`${base}/v1/conversations/web/${id}/messages`, { text: 'x' });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ param: 'conversationId', code: 'invalid_value' });
  });

  it('rejects broken percent-encoding with 400', async () => {
    const res = await post(`${base}/v1/conversations/web/%E0%A4%A/messages`, { text: 'x' });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_path');
  });

  it.each([
    ['a missing text', { txt: 'x' }, 'text'],
    ['an empty text', { text: '   ' }, 'text'],
    ['a wrong type', { text: 'x', metadata: { a: 1 } }, 'metadata.a'],
    ['a number as text', { text: 42 }, 'text'],
    ['a NUL in the text', { text: 'a\u0000b' }, 'text'],
    ['a lone surrogate', { text: 'a\ud800b' }, 'text'],
    ['a control character in the id', { text: 'x', id: 'a\u0007' }, 'id'],
  ])('rejects %s with 400 naming the field', async (_case, payload, param) => {
    const res = await post(`${base}/v1/conversations/web/x/messages`, payload);
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(body.error.message).toContain(param);
  });

  it('rejects a bad ?wait value naming the parameter', async () => {
    const res = await post(`${base}/v1/conversations/web/x/messages?wait=yes`, { text: 'x' });
    expect(res.status).toBe(400);
    expect((await json(res)).error.param).toBe('wait');
  });

  it('rejects malformed JSON in the OpenAI error envelope, without a stack', async () => {
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
    expect(text).not.toMatch(/at .*\.[jt]s:\d+/);
  });

  it('answers 413 for an oversize body and 404 in the envelope for unknown routes', async () => {
    const big = await post(`${base}/v1/conversations/web/x/messages`, { text: 'x'.repeat(300_000) });
    expect(big.status).toBe(413);
    expect((await json(big)).error.code).toBe('body_too_large');
    const missing = await request('GET', `${base}/v1/nope`, key);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toMatchObject({ type: 'not_found_error', code: 'unknown_route' });
  });
});
