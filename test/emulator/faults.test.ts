import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { expectApiError, http, startHarness } from './support/harness.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

const create = () => client.responses.create({ model: 'm', input: 'hi' });

describe('fault injection', () => {
  it('rate_limit: 429 with retry-after and x-ratelimit headers, once by default', async () => {
    emulator.faults.add({ kind: 'rate_limit', retryAfterSeconds: 7, retryAfterMs: 6500 });
    const err = await expectApiError(create(), { status: 429, code: 'rate_limit_exceeded', param: null });
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers?.get('retry-after')).toBe('7');
    expect(err.headers?.get('retry-after-ms')).toBe('6500');
    for (const h of ['limit', 'remaining', 'reset']) {
      expect(err.headers?.get(`x-ratelimit-${h}-requests`)).toBeTruthy();
      expect(err.headers?.get(`x-ratelimit-${h}-tokens`)).toBeTruthy();
    }
    await create();
    expect(emulator.faults.list()).toEqual([]);
  });

  it('quota: 429 insufficient_quota', async () => {
    emulator.faults.add({ kind: 'quota' });
    await expectApiError(create(), { status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
  });

  it('server_error: 500 and 503 with an error envelope, matching by path and body', async () => {
    emulator.faults.add({
      kind: 'server_error',
      times: 2,
      match: { path: '^/v1/responses$', bodyIncludes: 'boom' },
    });
    await create();
    await expectApiError(client.responses.create({ model: 'm', input: 'boom' }), {
      status: 500,
      type: 'server_error',
    });
    await expectApiError(client.responses.create({ model: 'm', input: 'boom' }), { status: 500 });
    await client.responses.create({ model: 'm', input: 'boom' });
    emulator.faults.add({ kind: 'server_error', status: 503, match: { method: 'POST' } });
    const err = await expectApiError(create(), { status: 503 });
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
  });

  it('latency delays and then serves normally; times -1 lasts until cleared', async () => {
    emulator.faults.add({ kind: 'latency', latencyMs: 300, times: -1 });
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const r = await create();
      expect(r.status).toBe('completed');
      expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    }
    emulator.faults.clear();
    const started = performance.now();
    await create();
    expect(performance.now() - started).toBeLessThan(280);
  });

  it('drop_connection destroys the socket: the SDK sees an APIConnectionError', async () => {
    emulator.faults.add({ kind: 'drop_connection' });
    const err = await create().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    const dropped = emulator.requests().find((r) => r.status === 0);
    expect(dropped).toMatchObject({ method: 'POST', path: '/v1/responses' });
  });
});

describe('lose_answer: the call is applied, then its answer is lost', () => {
  it('without status: the SDK sees a connection error, yet the response is stored and retrievable', async () => {
    emulator.faults.add({ kind: 'lose_answer', match: { path: '^/v1/responses$' } });
    const err = await create().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    const lost = emulator.requests().find((r) => r.path === '/v1/responses')!;
    expect(lost).toMatchObject({ status: 0, answerLost: true });
    expect(lost.responseId).toMatch(/^resp_/);
    const stored = await client.responses.retrieve(lost.responseId!);
    expect(stored.status).toBe('completed');
    expect(stored.output_text).toBe(
      'You said: "hi" [context: 1 user messages; first: "hi"; instructions: no]',
    );
    // The rule is spent: the next call is answered, and it is a second, separate response.
    const again = await create();
    expect(again.id).not.toBe(lost.responseId);
  });

  it('under a conversation the input and output are appended, and a retry appends them again', async () => {
    const conv = await client.conversations.create({});
    emulator.faults.add({ kind: 'lose_answer', status: 502 });
    const err = await client.responses
      .create({ model: 'm', conversation: conv.id, input: 'first' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const afterLoss = await client.conversations.items.list(conv.id, { order: 'asc' });
    expect(afterLoss.data.map((i) => i.type === 'message' && i.role)).toEqual(['user', 'assistant']);
    await client.responses.create({ model: 'm', conversation: conv.id, input: 'first' });
    const afterRetry = await client.conversations.items.list(conv.id, { order: 'asc' });
    expect(afterRetry.data).toHaveLength(4);
  });

  it('with status 504: a proxy error page, no OpenAI headers; an answered error is lost too', async () => {
    emulator.faults.add({ kind: 'lose_answer', status: 504, times: 2 });
    const post = (body: unknown) =>
      fetch(`${emulator.origin}/v1/responses`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const res = await post({ model: 'm', input: 'x' });
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('504 Gateway Time-out');
    expect(res.headers.get('x-request-id')).toBeNull();
    const bad = await post({ model: 'm', input: 'x', previous_response_id: 'resp_missing' });
    expect(bad.status).toBe(504);
    expect((await http(emulator, 'GET', '/_emulator/health', undefined, {})).json).toMatchObject({
      responses: 1,
    });
  });

  it('rejects a status a proxy would not send', async () => {
    expect(() => emulator.faults.add({ kind: 'lose_answer', status: 500 })).toThrow(/502 or 504/);
    const bad = await http(emulator, 'POST', '/_emulator/faults', { kind: 'lose_answer', status: 503 }, {});
    expect(bad.status).toBe(400);
  });
});

describe('admin HTTP endpoints', () => {
  it('steers faults, clock, expiry, journal and reset over HTTP', async () => {
    expect((await http(emulator, 'GET', '/_emulator/health', undefined, {})).json).toMatchObject({
      status: 'ok',
    });

    const added = await http(emulator, 'POST', '/_emulator/faults', { kind: 'quota', times: null }, {});
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ kind: 'quota', remaining: -1 });
    expect((await http(emulator, 'GET', '/_emulator/faults', undefined, {})).json).toMatchObject({
      data: [{ kind: 'quota' }],
    });
    await expectApiError(create(), { status: 429, code: 'insufficient_quota' });
    await expectApiError(create(), { status: 429, code: 'insufficient_quota' });
    await http(emulator, 'DELETE', '/_emulator/faults', undefined, {});
    const bad = await http(emulator, 'POST', '/_emulator/faults', { kind: 'nope' }, {});
    expect(bad.status).toBe(400);

    const r = await create();
    const expired = await http(emulator, 'POST', `/_emulator/responses/${r.id}/expire`, undefined, {});
    expect(expired.status).toBe(200);
    await expectApiError(client.responses.retrieve(r.id), { status: 404 });
    expect(
      (await http(emulator, 'POST', '/_emulator/responses/resp_nope/expire', undefined, {})).status,
    ).toBe(404);

    const before = (await http(emulator, 'GET', '/_emulator/clock', undefined, {})).json as { now: number };
    const advanced = await http(emulator, 'POST', '/_emulator/clock/advance', { seconds: 3600 }, {});
    expect((advanced.json as { now: number }).now - before.now).toBeGreaterThanOrEqual(3600);
    const later = await create();
    expect(later.created_at - before.now).toBeGreaterThanOrEqual(3600);

    const journal = (await http(emulator, 'GET', '/_emulator/requests?limit=2', undefined, {})).json as {
      data: {
        method: string;
        path: string;
        status: number;
        requestId: string;
        requestBytes: number;
        responseBytes: number;
        body: unknown;
      }[];
    };
    expect(journal.data).toHaveLength(2);
    const last = journal.data[1]!;
    expect(last).toMatchObject({
      method: 'POST',
      path: '/v1/responses',
      status: 200,
      body: { model: 'm', input: 'hi' },
    });
    expect(last.requestId).toMatch(/^req_/);
    expect(last.requestBytes).toBeGreaterThan(0);
    expect(last.responseBytes).toBeGreaterThan(0);

    const threads = (await http(emulator, 'GET', '/_emulator/threads?limit=2', undefined, {})).json as {
      data: { id: string }[];
      has_more: boolean;
      last_id: string;
    };
    expect(threads.data).toHaveLength(2);
    expect(threads.has_more).toBe(true);
    const rest = (await http(emulator, 'GET', `/_emulator/threads?after=${threads.last_id}`, undefined, {}))
      .json as {
      data: { id: string }[];
      has_more: boolean;
    };
    expect(rest.has_more).toBe(false);
    expect([...threads.data, ...rest.data].map((t) => t.id)).toEqual([
      'thread_fixture_travel',
      'thread_fixture_plain',
      'thread_fixture_empty',
    ]);

    await http(emulator, 'POST', '/_emulator/reset', undefined, {});
    expect(emulator.requests().filter((x) => x.path.startsWith('/v1'))).toEqual([]);
    await expectApiError(client.responses.retrieve(later.id), { status: 404 });
  });
});
