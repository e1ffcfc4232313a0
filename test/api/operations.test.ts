import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppLocals } from '../../src/api/app.js';
import { PAGE_ROUTES } from '../../src/api/pages.js';
import { listen } from '../../src/api/server.js';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';

let env: ApiEnv;
let base: string;
let key: string;
beforeAll(async () => {
  env = await startApiEnv();
  base = await env.start({
    corsOrigins: ['https://chat.example'],
    channels: {
      whatsapp: {
        appSecret: 'x'.repeat(16),
        verifyToken: 'y'.repeat(16),
        accessToken: undefined,
        phoneNumberId: undefined,
        apiBaseUrl: 'http://127.0.0.1:1',
        tenant: 'default',
      },
      webhook: {
        secret: 'z'.repeat(16),
        channels: ['sms'],
        tenant: 'default',
        toleranceSeconds: 300,
        callbackUrl: undefined,
      },
    },
  });
  key = await env.keyFor('acme');
});
afterAll(() => env?.stop());

describe('operations', () => {
  it('/healthz and /readyz (Postgres and Temporal reachable)', async () => {
    expect(await json(await fetch(`${base}/healthz`))).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await json(ready)).toEqual({
      status: 'ok',
      checks: { postgres: 'ok', temporal: 'ok', server: 'ok' },
    });
  });

  it('/readyz answers 503 naming the failing dependency', async () => {
    const { createPool } = await import('../../src/store/pool.js');
    const deadPool = createPool('postgres://nobody@127.0.0.1:1/none', 1);
    const app = createApp({
      client: env.client,
      pool: deadPool,
      taskQueue: env.taskQueue,
      agent: 'assistant',
      replyWaitMs: 1000,
      log: pino({ level: 'silent' }),
    });
    const http = await listen(app, '127.0.0.1', 0);
    const res = await fetch(`${http.url}/readyz`);
    expect(res.status).toBe(503);
    expect((await json(res)).checks).toMatchObject({ postgres: 'unreachable', temporal: 'ok' });
    await http.stop();
    await deadPool.end();
  });

  it('/metrics: requests in-process; model calls, tokens, cost, deliveries, turn latency from Postgres', async () => {
    const id = randomUUID();
    await request('POST', `${base}/v1/conversations/web/${id}/messages?wait=true`, key, {
      text: 'measure me',
    });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(
      /threadline_http_requests_total\{method="POST",route="\/v1\/conversations\/:channel\/:conversationId\/messages",status="200"\} 1/,
    );
    expect(text).toMatch(/threadline_model_calls_total\{model="[^"]+",recovery="none"\} 1/);
    expect(text).toMatch(/threadline_tokens_total\{model="[^"]+",kind="input"\} [1-9]/);
    expect(text).toContain('threadline_cost_usd_total');
    expect(text).toMatch(/threadline_model_call_latency_seconds_count\{[^}]+\} 1/);
    expect(text).toMatch(/threadline_deliveries_total\{channel="web",status="no_sender"\} 1/);
    expect(text).toMatch(/threadline_turn_latency_seconds_count 1/);
    expect(text).toContain('# TYPE threadline_expiry_recoveries_total counter');
    expect(text).toContain('# TYPE threadline_tool_errors_total counter');
    // Ids never become label values.
    expect(text).not.toContain(id);
  });

  it('helmet headers, and CORS only for configured origins', async () => {
    const res = await fetch(`${base}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const ok = await fetch(`${base}/v1/conversations`, {
      method: 'OPTIONS',
      headers: { origin: 'https://chat.example', 'access-control-request-method': 'POST' },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://chat.example');
  });

  it('/openapi.json is OpenAPI 3.1 and lists exactly the routes the app serves', async () => {
    const doc = await json(await fetch(`${base}/openapi.json`));
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      )
      .sort();
    // The routes as Express registered them, read from its routers.
    const app = createApp({
      client: env.client,
      pool: env.db.pool,
      taskQueue: env.taskQueue,
      agent: 'assistant',
      replyWaitMs: 1,
      log: pino({ level: 'silent' }),
      channels: {
        whatsapp: {
          appSecret: 'x'.repeat(16),
          verifyToken: 'y'.repeat(16),
          accessToken: undefined,
          phoneNumberId: undefined,
          apiBaseUrl: 'http://x',
          tenant: 'default',
        },
        webhook: {
          secret: 'z'.repeat(16),
          channels: ['sms'],
          tenant: 'default',
          toleranceSeconds: 300,
          callbackUrl: undefined,
        },
      },
    });
    type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
    const served: string[] = [];
    const walk = (stack: Layer[]) => {
      for (const layer of stack) {
        if (layer.route)
          for (const m of Object.keys(layer.route.methods))
            served.push(`${m.toUpperCase()} ${layer.route.path}`);
        else if (layer.handle?.stack) walk(layer.handle.stack);
      }
    };
    walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect(served.sort()).toEqual([...documented, ...PAGE_ROUTES].sort());
    expect((app.locals as AppLocals).specs).toHaveLength(documented.length);

    // Every schema compiles, and real responses validate against their documented schema.
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, object>))
      ajv.addSchema(schema, `#/components/schemas/${name}`);
    const op = doc.paths['/v1/conversations/{channel}/{conversationId}/messages'].post;
    expect(op.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/MessageInput',
    });
    const res = await request(
      'POST',
      `${base}/v1/conversations/web/${randomUUID()}/messages?wait=true`,
      key,
      { text: 'hi' },
    );
    const validate = ajv.getSchema('#/components/schemas/MessageReplied')!;
    expect(validate(await json(res)), JSON.stringify(validate.errors)).toBe(true);
    const err = ajv.getSchema('#/components/schemas/Error')!;
    expect(err(await json(await request('GET', `${base}/v1/conversations`, null)))).toBe(true);
  });

  it('graceful shutdown: refuses new requests, finishes the one in flight, ends event streams', async () => {
    const app = createApp({
      client: env.client,
      pool: env.db.pool,
      taskQueue: env.taskQueue,
      agent: 'assistant',
      replyWaitMs: 30_000,
      eventsPollMs: 50,
      log: pino({ level: 'silent' }),
    });
    const http = await listen(app, '127.0.0.1', 0, 20_000);
    const id = randomUUID();
    await request('POST', `${http.url}/v1/conversations/web/${id}/messages?wait=true`, key, {
      text: 'first',
    });
    const stream = await fetch(`${http.url}/v1/conversations/web/${id}/events`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const inFlight = request('POST', `${http.url}/v1/conversations/web/${id}/messages?wait=true`, key, {
      text: 'in flight',
    });
    await new Promise((r) => setTimeout(r, 50));
    const stopped = http.stop();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect((await json(res)).reply.turn).toBe(2);
    await stream.text(); // ends rather than hanging
    await stopped;
    await expect(fetch(`${http.url}/healthz`)).rejects.toThrow();
  });

  it('logs one line per request with request id, tenant and workflow id, and no key or message text', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const app = createApp({
      client: env.client,
      pool: env.db.pool,
      taskQueue: env.taskQueue,
      agent: 'assistant',
      replyWaitMs: 30_000,
      log,
    });
    const http = await listen(app, '127.0.0.1', 0);
    const id = randomUUID();
    await request(
      'POST',
      `${http.url}/v1/conversations/web/${id}/messages?wait=true`,
      key,
      { text: 'my secret diary' },
      { 'x-request-id': 'req-42' },
    );
    await http.stop();
    const line = lines.find((l) => l.msg === 'request');
    expect(line).toMatchObject({
      requestId: 'req-42',
      tenant: 'acme',
      workflowId: `conversation:acme:web:${id}`,
      status: 200,
    });
    const all = JSON.stringify(lines);
    expect(all).not.toContain('my secret diary');
    expect(all).not.toContain(key);
  });
});
