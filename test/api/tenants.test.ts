import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutTenantSeries } from '../../src/metrics/exposure.js';
import { clientFor } from '../../src/migration/sources/assistantsApi.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/**
 * Every route, tried by every kind of caller against one tenant's data. The table is checked
 * against /openapi.json: a new route without a row fails here until someone decides who may call it.
 */

type Caller = 'anonymous' | 'other' | 'ownerAsOther' | 'adminNoTenant' | 'adminAsOwner' | 'owner';
// Owners last: a row's changes by the owner (reset, purge) come after the others' attempts.
const CALLERS: Caller[] = ['anonymous', 'other', 'ownerAsOther', 'adminNoTenant', 'adminAsOwner', 'owner'];
const OWNERS: ReadonlySet<Caller> = new Set(['adminAsOwner', 'owner']);

interface Row {
  /** `${METHOD} ${OpenAPI path}` */
  route: string;
  /** The URL to call, given the owner's conversation id. */
  url: (c: { id: string; purgedId: string }) => string;
  body?: unknown;
  expect: Record<Caller, number>;
  /** What the owner's response shows of the conversation (so its absence for others means something). */
  shows?: 'secret' | 'workflowId';
}

const perConversation = (ok: number, other = 404): Record<Caller, number> => ({
  anonymous: 401,
  other,
  ownerAsOther: 403,
  adminNoTenant: 400,
  adminAsOwner: ok,
  owner: ok,
});
const perTenant = (ok: number) => perConversation(ok, ok);
const adminOnly = (status: number): Record<Caller, number> => ({
  anonymous: 401,
  other: 403,
  ownerAsOther: 403,
  adminNoTenant: status,
  adminAsOwner: status,
  owner: 403,
});
const open = (status = 200): Record<Caller, number> => ({
  anonymous: status,
  other: status,
  ownerAsOther: status,
  adminNoTenant: status,
  adminAsOwner: status,
  owner: status,
});
const conv = (id: string, rest = '') => `/v1/conversations/web/${id}${rest}`;

const TABLE: Row[] = [
  { route: 'GET /healthz', url: () => '/healthz', expect: open() },
  { route: 'GET /readyz', url: () => '/readyz', expect: open() },
  { route: 'GET /metrics', url: () => '/metrics', expect: open() },
  { route: 'GET /openapi.json', url: () => '/openapi.json', expect: open() },
  // Another tenant posting to the same channel and id talks to its own conversation (checked below).
  {
    route: 'POST /v1/conversations/{channel}/{conversationId}/messages',
    url: (c) => conv(c.id, '/messages'),
    body: { text: 'hello again' },
    expect: perConversation(202, 202),
  },
  {
    route: 'GET /v1/conversations',
    url: () => '/v1/conversations',
    expect: perTenant(200),
    shows: 'workflowId',
  },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}',
    url: (c) => conv(c.id),
    expect: perConversation(200),
    shows: 'workflowId',
  },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}/items',
    url: (c) => conv(c.id, '/items?limit=100'),
    expect: perConversation(200),
    shows: 'secret',
  },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}/events',
    url: (c) => conv(c.id, '/events'),
    expect: perConversation(200),
    shows: 'secret',
  },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}/usage',
    url: (c) => conv(c.id, '/usage'),
    expect: perConversation(200),
  },
  { route: 'GET /v1/usage', url: () => '/v1/usage', expect: perTenant(200) },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}/purge',
    url: (c) => conv(c.purgedId, '/purge'),
    expect: perConversation(200),
  },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}/deliveries',
    url: (c) => conv(c.id, '/deliveries'),
    expect: perConversation(200),
  },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}/model-calls',
    url: (c) => conv(c.id, '/model-calls'),
    expect: perConversation(200),
  },
  {
    route: 'GET /v1/conversations/{channel}/{conversationId}/approvals',
    url: (c) => conv(c.id, '/approvals'),
    expect: perConversation(200),
  },
  // No call waits for approval: the owner learns that (404 approval_not_found), others only 404.
  {
    route: 'POST /v1/conversations/{channel}/{conversationId}/approvals/{callId}',
    url: (c) => conv(c.id, '/approvals/call_matrix'),
    body: { approve: true, operator: 'matrix' },
    expect: perConversation(404),
  },
  {
    route: 'POST /v1/conversations/{channel}/{conversationId}/takeover',
    url: (c) => conv(c.id, '/takeover'),
    body: { operator: 'matrix' },
    expect: perConversation(200),
  },
  {
    route: 'POST /v1/conversations/{channel}/{conversationId}/handback',
    url: (c) => conv(c.id, '/handback'),
    body: { operator: 'matrix' },
    expect: perConversation(200),
  },
  // Not in human mode: the owner is told so (409), others learn nothing.
  {
    route: 'POST /v1/conversations/{channel}/{conversationId}/operator-messages',
    url: (c) => conv(c.id, '/operator-messages'),
    body: { operator: 'matrix', text: 'hello from a person' },
    expect: perConversation(409),
  },
  {
    route: 'POST /v1/conversations/{channel}/{conversationId}/reset',
    url: (c) => conv(c.id, '/reset'),
    expect: perConversation(202),
  },
  {
    route: 'DELETE /v1/conversations/{channel}/{conversationId}',
    url: (c) => conv(c.id, '?purge=true'),
    expect: perConversation(200),
  },
  {
    route: 'POST /v1/admin/api-keys',
    url: () => '/v1/admin/api-keys',
    body: { tenant: 'acme', name: 'matrix' },
    expect: adminOnly(201),
  },
  { route: 'GET /v1/admin/api-keys', url: () => '/v1/admin/api-keys', expect: adminOnly(200) },
  {
    route: 'DELETE /v1/admin/api-keys/{keyId}',
    url: () => '/v1/admin/api-keys/key_0000000000000000',
    expect: adminOnly(404),
  },
  {
    route: 'GET /v1/admin/errors/{errorId}',
    url: () => `/v1/admin/errors/err_${'0'.repeat(24)}`,
    expect: adminOnly(404),
  },
  // Validation comes after access: a tenant learns nothing about the body a route wants.
  { route: 'POST /v1/migrations', url: () => '/v1/migrations', body: {}, expect: adminOnly(400) },
  { route: 'GET /v1/migrations/{migrationId}', url: () => '/v1/migrations/nope', expect: adminOnly(404) },
  {
    route: 'GET /v1/migrations/{migrationId}/failures',
    url: () => '/v1/migrations/nope/failures',
    expect: adminOnly(200),
  },
  ...['pause', 'resume', 'cancel'].map((action) => ({
    route: `POST /v1/migrations/{migrationId}/${action}`,
    url: () => `/v1/migrations/nope/${action}`,
    expect: adminOnly(404),
  })),
];

let env: ApiEnv;
let base: string;
let keys: { acme: string; globex: string };
beforeAll(async () => {
  env = await startApiEnv();
  base = await env.start();
  keys = { acme: await env.keyFor('acme'), globex: await env.keyFor('globex') };
});
afterAll(() => env?.stop());

function headersOf(caller: Caller): { key: string | null; headers: Record<string, string> } {
  switch (caller) {
    case 'anonymous':
      return { key: null, headers: {} };
    case 'other':
      return { key: keys.globex, headers: {} };
    case 'ownerAsOther':
      return { key: keys.acme, headers: { 'x-tenant': 'globex' } };
    case 'adminNoTenant':
      return { key: ADMIN_KEY, headers: {} };
    case 'adminAsOwner':
      return { key: ADMIN_KEY, headers: { 'x-tenant': 'acme' } };
    case 'owner':
      return { key: keys.acme, headers: {} };
  }
}

/** Status and body; an event stream is read until it has shown something, then closed. */
async function call(row: Row, caller: Caller, c: { id: string; purgedId: string }) {
  const { key, headers } = headersOf(caller);
  const controller = new AbortController();
  const res = await fetch(base + row.url(c), {
    method: row.route.split(' ')[0],
    signal: controller.signal,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(row.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(row.body !== undefined ? { body: JSON.stringify(row.body) } : {}),
  });
  let body = '';
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const reader = res.body!.getReader();
    while (!body.includes('event: item')) {
      const { value, done } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
    controller.abort();
  } else body = await res.text();
  return { status: res.status, body };
}

async function converse(externalId: string, text: string) {
  const res = await request('POST', `${base}${conv(externalId, '/messages?wait=true')}`, keys.acme, { text });
  expect(res.status).toBe(200);
}

const changes = (row: Row) => !row.route.startsWith('GET ') && row.route.includes('{conversationId}');
let shared: Promise<{ id: string; secret: string }> | undefined;
async function ownerConversation() {
  const id = randomUUID();
  const secret = `acme-secret-${randomUUID()}`;
  await converse(id, secret);
  return { id, secret };
}

describe('tenants stay in their lane', () => {
  it('the table has a row for every route the OpenAPI document declares, and only those', async () => {
    const doc = await json(await request('GET', `${base}/openapi.json`, null));
    const declared = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(TABLE.map((r) => r.route).sort()).toEqual(declared.sort());
  });

  it.each(TABLE.map((row) => [row.route, row] as const))(
    '%s: each caller gets what it may, and nothing of another tenant',
    async (_route, row) => {
      // The owner's conversation, with a secret only the owner (and the admin for it) may read:
      // its own for a row that changes it, else one shared by the reading rows.
      const { id, secret } = changes(row)
        ? await ownerConversation()
        : await (shared ??= ownerConversation());
      const purgedId = randomUUID();
      if (row.route.endsWith('/purge')) {
        await converse(purgedId, secret);
        expect((await request('DELETE', `${base}${conv(purgedId, '?purge=true')}`, keys.acme)).status).toBe(
          200,
        );
      }
      const workflowId = conversationWorkflowId({ tenant: 'acme', channel: 'web', externalId: id });
      const snapshot = async () => {
        const s = await json(await request('GET', `${base}${conv(id)}`, keys.acme));
        const items = await json(await request('GET', `${base}${conv(id, '/items?limit=100')}`, keys.acme));
        return { status: s.status, turns: s.turns, segment: s.segment, items: items.data.length };
      };
      const before = await snapshot();
      const outcome: Partial<Record<Caller, number>> = {};
      for (const caller of CALLERS) {
        if (caller === 'adminAsOwner') {
          // Nothing the others tried changed the owner's conversation.
          expect(await snapshot(), `${row.route}: changed by another caller`).toEqual(before);
        }
        const { status, body } = await call(row, caller, { id, purgedId });
        outcome[caller] = status;
        if (!OWNERS.has(caller)) {
          expect(body, `${row.route} as ${caller}`).not.toContain(secret);
          expect(body, `${row.route} as ${caller}`).not.toContain(workflowId);
        } else if (row.shows && status === 200) {
          expect(body, `${row.route} as ${caller}`).toContain(row.shows === 'secret' ? secret : workflowId);
        }
      }
      expect(outcome).toEqual(row.expect);
    },
  );
});

describe('/metrics', () => {
  it('with METRICS_TOKEN it needs the token (or the admin key) as a bearer token', async () => {
    const token = 'metrics-token-0123456789';
    const guarded = await env.start({ metricsToken: token });
    expect((await request('GET', `${guarded}/metrics`, null)).status).toBe(401);
    expect((await request('GET', `${guarded}/metrics`, keys.acme)).status).toBe(401);
    expect((await request('GET', `${guarded}/metrics`, 'metrics-token-wrong-000000')).status).toBe(401);
    const ok = await request('GET', `${guarded}/metrics`, token);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('threadline_model_calls_total');
    expect((await request('GET', `${guarded}/metrics`, ADMIN_KEY)).status).toBe(200);
  });

  it('without a token it serves cluster-wide series only: no tenant label, no tenant name', async () => {
    await converse(randomUUID(), 'counted');
    const text = await (await request('GET', `${base}/metrics`, null)).text();
    expect(text).toContain('threadline_model_calls_total');
    expect(text).not.toMatch(/[{,]tenant="/);
    expect(text).not.toContain('acme');
  });

  it('withoutTenantSeries drops every series labelled by tenant, whatever its family', () => {
    const text = [
      '# HELP x_total X',
      '# TYPE x_total counter',
      'x_total{channel="web"} 3',
      'x_total{tenant="acme",channel="web"} 2',
      'x_total{channel="web",tenant="globex"} 1',
      'y 1',
    ].join('\n');
    expect(withoutTenantSeries(text).split('\n')).toEqual([
      '# HELP x_total X',
      '# TYPE x_total counter',
      'x_total{channel="web"} 3',
      'y 1',
    ]);
  });
});

describe("a migration's baseUrl", () => {
  /** Another endpoint that records the Authorization header of every request and answers 404. */
  async function recordingServer() {
    const seen: (string | null)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization ?? null);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'No such response', type: 'invalid_request_error' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { baseUrl: `http://127.0.0.1:${port}/v1`, seen, close: () => server.close() };
  }
  const startChain = (baseUrl: string, extra: Record<string, unknown> = {}) =>
    request('POST', `${base}/v1/migrations`, ADMIN_KEY, {
      name: `keys-${randomUUID().slice(0, 8)}`,
      source: {
        kind: 'response-chains',
        chains: [{ externalId: 'u1', responseId: 'resp_x' }],
        baseUrl,
        ...extra,
      },
    });
  async function firstHeader(seen: (string | null)[]) {
    const deadline = Date.now() + 20_000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(seen.length).toBeGreaterThan(0);
    return seen;
  }

  it("another endpoint never receives the worker's OpenAI key", async () => {
    const fake = await recordingServer();
    try {
      expect((await startChain(fake.baseUrl)).status).toBe(201);
      const seen = await firstHeader(fake.seen);
      expect(seen.every((h) => h === null)).toBe(true);
    } finally {
      fake.close();
    }
  });

  it('gets the key the admin passed for it, which stays out of the workflow history', async () => {
    const fake = await recordingServer();
    try {
      const legacyKey = `legacy-${randomUUID()}`;
      const res = await startChain(fake.baseUrl, { apiKey: legacyKey });
      expect(res.status).toBe(201);
      const started = await json(res);
      expect(JSON.stringify(started)).not.toContain(legacyKey);
      const seen = await firstHeader(fake.seen);
      expect(seen.every((h) => h === `Bearer ${legacyKey}`)).toBe(true);
      const history = await env.client.workflow.getHandle(started.migrationId).fetchHistory();
      expect(JSON.stringify(history)).not.toContain(legacyKey);
    } finally {
      fake.close();
    }
  });

  it('the configured endpoint gets the worker key; any other gets no key at all', () => {
    const worker = new OpenAI({ apiKey: 'worker-key', baseURL: 'http://openai.internal/v1' });
    expect(clientFor(worker, 'http://openai.internal/v1/')).toBe(worker);
    expect(clientFor(worker, undefined)).toBe(worker);
    expect(clientFor(worker, 'http://elsewhere/v1').apiKey).not.toBe('worker-key');
    expect(clientFor(worker, 'http://elsewhere/v1', 'given').apiKey).toBe('given');
  });
});
