import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/**
 * The OpenAPI document is the contract: a value it allows, the API accepts; a value the API
 * rejects, it disallows. Each case here is a disagreement `npm run fuzz` (schemathesis) found.
 */

let env: ApiEnv;
let base: string;
let tenantKey: string;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let doc: any;
beforeAll(async () => {
  env = await startApiEnv();
  base = await env.start();
  tenantKey = await env.keyFor('contract');
  doc = await json(await request('GET', `${base}/openapi.json`, null));
});
afterAll(() => env?.stop());

/** Whether the document's `schema` (its $refs resolved against the document) allows `value`. */
function documentAllows(schema: object, value: unknown): boolean {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const validate = ajv.compile({ ...schema, components: doc.components });
  return validate(value) as boolean;
}
const parameter = (path: string, method: string, name: string): object =>
  doc.paths[path][method].parameters.find((p: { name: string }) => p.name === name).schema;
const bodySchema = (path: string, method: string): object =>
  doc.paths[path][method].requestBody.content['application/json'].schema;

const conversation = '/v1/conversations/{channel}/{conversationId}';

describe('the document states what the validators enforce', () => {
  it('path ids: control characters and lone surrogates are outside the documented pattern', async () => {
    const schema = parameter(conversation, 'get', 'channel');
    for (const bad of ['a\u0007b', '\u007f', 'x\u0085']) {
      expect(documentAllows(schema, bad)).toBe(false);
      const res = await request('GET', `${base}/v1/conversations/${encodeURIComponent(bad)}/c1`, tenantKey);
      expect(res.status).toBe(400);
    }
    // Lengths count code points, as JSON Schema does: 256 emoji are allowed and accepted.
    const emoji = '😀'.repeat(256);
    expect(documentAllows(schema, emoji)).toBe(true);
    const res = await request('GET', `${base}/v1/conversations/${encodeURIComponent(emoji)}/c1`, tenantKey);
    expect(res.status).toBe(404);
    expect(documentAllows(schema, '😀'.repeat(257))).toBe(false);
  });

  it('message text: the document disallows what the API rejects (empty, blank, NUL)', async () => {
    const schema = bodySchema(`${conversation}/messages`, 'post');
    for (const text of ['', '   ', '\u00a0\ufeff', 'a\u0000b']) {
      expect(documentAllows(schema, { text })).toBe(false);
      const res = await request('POST', `${base}/v1/conversations/web/contract-text/messages`, tenantKey, {
        text,
      });
      expect(res.status).toBe(400);
      expect((await json(res)).error.param).toBe('text');
    }
    expect(documentAllows(schema, { text: '\u001c' })).toBe(true);
  });

  it('cursor: every value of the documented shape is a cursor; others are rejected by both', async () => {
    const schema = parameter('/v1/conversations', 'get', 'cursor');
    for (const cursor of ['0:x', '1735725600123456:conversation:a:web:1']) {
      expect(documentAllows(schema, cursor)).toBe(true);
      const res = await request(
        'GET',
        `${base}/v1/conversations?cursor=${encodeURIComponent(cursor)}`,
        tenantKey,
      );
      expect(res.status).toBe(200);
    }
    for (const cursor of ['nonsense', '0000', '12345678901234567:x']) {
      expect(documentAllows(schema, cursor)).toBe(false);
      const res = await request(
        'GET',
        `${base}/v1/conversations?cursor=${encodeURIComponent(cursor)}`,
        tenantKey,
      );
      expect((await json(res)).error).toMatchObject({ code: 'invalid_cursor', param: 'cursor' });
    }
  });

  it('an API key name with a NUL is a 400 the document predicts, not a 500', async () => {
    const schema = bodySchema('/v1/admin/api-keys', 'post');
    const body = { tenant: 'contract', name: 'a\u0000b' };
    expect(documentAllows(schema, body)).toBe(false);
    const res = await request('POST', `${base}/v1/admin/api-keys`, ADMIN_KEY, body);
    expect(res.status).toBe(400);
    expect((await json(res)).error.param).toBe('name');
  });

  it('a response-chains source without file or chains is outside the document', () => {
    const schema = bodySchema('/v1/migrations', 'post');
    expect(documentAllows(schema, { source: { kind: 'response-chains' } })).toBe(false);
    expect(documentAllows(schema, { source: { kind: 'response-chains', file: 'f.jsonl' } })).toBe(true);
  });

  it('a migration is found by its name or by the migrationId its progress shows', async () => {
    for (const id of ['never-started', 'migration:never-started']) {
      const res = await request('GET', `${base}/v1/migrations/${encodeURIComponent(id)}`, ADMIN_KEY);
      expect(res.status).toBe(404);
      expect((await json(res)).error.code).toBe('migration_not_found');
    }
  });

  it('links lead from a create to its reads', () => {
    const sent = doc.paths[`${conversation}/messages`].post.responses['202'].links;
    expect(sent.getConversation).toEqual({
      operationId: 'getConversation',
      parameters: { channel: '$request.path.channel', conversationId: '$request.path.conversationId' },
    });
    expect(doc.paths['/v1/migrations'].post.responses['201'].links.getMigration.parameters).toEqual({
      migrationId: '$response.body#/id',
    });
    expect(doc.paths['/v1/admin/api-keys'].post.responses['201'].links.revokeApiKey.parameters).toEqual({
      keyId: '$response.body#/id',
    });
  });
});

describe('methods a path does not declare', () => {
  it('answer 405 with Allow, in the error envelope', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/healthz', 'GET'],
      ['PUT', '/v1/conversations/web/c1', 'GET, DELETE'],
      ['PATCH', '/v1/admin/api-keys', 'POST, GET'],
    ] as const) {
      const res = await request(method, `${base}${path}`, null);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect((await json(res)).error).toMatchObject({
        type: 'invalid_request_error',
        code: 'method_not_allowed',
        param: null,
      });
    }
    // A path nobody declares is still a 404.
    expect((await request('PUT', `${base}/v1/nothing-here`, null)).status).toBe(404);
  });
});

describe('a 5xx the fuzzer found', () => {
  it('DELETE while the run ends between the lookup and the close signal: closed, not a 500', async () => {
    const sent = await request('POST', `${base}/v1/conversations/web/race/messages?wait=true`, tenantKey, {
      text: 'hello',
    });
    expect(sent.status).toBe(200);
    // The run is open when the route looks; it has ended by the time the route signals it.
    const racing = new Proxy(env.client, {
      get(client, prop) {
        if (prop !== 'workflow') return Reflect.get(client, prop) as unknown;
        return new Proxy(client.workflow, {
          get(workflow, p) {
            if (p !== 'getHandle') return Reflect.get(workflow, p) as unknown;
            return (id: string) => {
              const handle = workflow.getHandle(id);
              return new Proxy(handle, {
                get(h, name) {
                  if (name !== 'describe') return Reflect.get(h, name) as unknown;
                  return async () => {
                    const description = await h.describe();
                    if (description.status.name === 'RUNNING') await h.terminate('ended by the test');
                    return description;
                  };
                },
              });
            };
          },
        });
      },
    });
    const racingBase = await env.start({ client: racing });
    const res = await request('DELETE', `${racingBase}/v1/conversations/web/race`, tenantKey);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 'closed', purged: false });
  });
});
