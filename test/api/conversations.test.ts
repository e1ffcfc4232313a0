import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';

let env: ApiEnv;
let base: string;
let acme: string;
let globex: string;
beforeAll(async () => {
  env = await startApiEnv();
  base = await env.start();
  [acme, globex] = await Promise.all([env.keyFor('acme'), env.keyFor('globex')]);
});
afterAll(() => env?.stop());

async function converse(key: string, channel: string, id: string, ...texts: string[]) {
  for (const text of texts) {
    const res = await request('POST', `${base}/v1/conversations/${channel}/${id}/messages?wait=true`, key, {
      text,
    });
    expect(res.status).toBe(200);
  }
}
const url = (channel: string, id: string, rest = '') => `${base}/v1/conversations/${channel}/${id}${rest}`;

describe('authentication', () => {
  it('401 without a key, with a malformed header, with an unknown key, with a revoked key', async () => {
    const missing = await request('GET', `${base}/v1/conversations`, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect((await json(missing)).error).toMatchObject({
      type: 'authentication_error',
      code: 'missing_api_key',
    });
    const malformed = await request('GET', `${base}/v1/conversations`, null, undefined, {
      authorization: 'Basic x',
    });
    expect((await json(malformed)).error.code).toBe('invalid_authorization_header');
    const unknown = await request('GET', `${base}/v1/conversations`, 'tl_nope');
    expect(unknown.status).toBe(401);

    const created = await json(
      await request('POST', `${base}/v1/admin/api-keys`, ADMIN_KEY, { tenant: 'acme', name: 'temp' }),
    );
    expect(created.key).toMatch(/^tl_/);
    expect((await request('GET', `${base}/v1/conversations`, created.key)).status).toBe(200);
    const revoked = await request('DELETE', `${base}/v1/admin/api-keys/${created.id}`, ADMIN_KEY);
    expect((await json(revoked)).revokedAt).not.toBeNull();
    expect((await request('GET', `${base}/v1/conversations`, created.key)).status).toBe(401);
  });

  it('keys are stored hashed, never in plain text', async () => {
    const key = await env.keyFor('acme');
    const { rows } = await env.db.pool.query('SELECT * FROM api_keys');
    expect(JSON.stringify(rows)).not.toContain(key);
  });

  it('admin routes are for the admin key only (403 for a tenant key)', async () => {
    const res = await request('GET', `${base}/v1/admin/api-keys`, acme);
    expect(res.status).toBe(403);
    expect((await json(res)).error).toMatchObject({ type: 'permission_error', code: 'admin_only' });
    const list = await json(await request('GET', `${base}/v1/admin/api-keys?tenant=globex`, ADMIN_KEY));
    expect(list.data.every((k: { tenant: string }) => k.tenant === 'globex')).toBe(true);
    expect(JSON.stringify(list)).not.toContain(globex);
    expect(
      (await request('DELETE', `${base}/v1/admin/api-keys/key_0000000000000000`, ADMIN_KEY)).status,
    ).toBe(404);
    const bad = await request('POST', `${base}/v1/admin/api-keys`, ADMIN_KEY, { tenant: 'a b', name: 'x' });
    expect((await json(bad)).error.param).toBe('tenant');
  });

  it('429 with Retry-After past the per-key rate', async () => {
    const limited = await env.start({ rateLimitPerMinute: 2 });
    const key = await env.keyFor('acme');
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await request('GET', `${limited}/v1/conversations`, key)).status);
    expect(statuses).toEqual([200, 200, 429]);
    const res = await request('GET', `${limited}/v1/conversations`, key);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await json(res)).error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    // Another key has its own bucket.
    expect((await request('GET', `${limited}/v1/conversations`, await env.keyFor('acme'))).status).toBe(200);
  });
});

describe('tenant isolation', () => {
  it("a key of one tenant can never read, write or list another tenant's conversation", async () => {
    const id = randomUUID();
    await converse(acme, 'web', id, 'secret plans');
    // Same path, other tenant: a different conversation, which does not exist.
    for (const path of ['', '/items', '/usage', '/events']) {
      const res = await request('GET', url('web', id, path), globex);
      expect(res.status, path).toBe(404);
    }
    expect((await request('POST', url('web', id, '/reset'), globex)).status).toBe(404);
    expect((await request('DELETE', url('web', id), globex)).status).toBe(404);
    const list = await json(await request('GET', `${base}/v1/conversations`, globex));
    expect(list.data.map((c: { conversationId: string }) => c.conversationId)).not.toContain(id);
    // Naming the other tenant explicitly is refused.
    const spoof = await request('GET', url('web', id), globex, undefined, { 'x-tenant': 'acme' });
    expect(spoof.status).toBe(403);
    // A message from globex to the same id lands in globex's own conversation.
    const res = await request('POST', url('web', id, '/messages?wait=true'), globex, { text: 'hello' });
    expect((await json(res)).reply.text).toContain('[context: 1 user messages');
  });

  it('the admin key acts for the tenant named in X-Tenant, and must name one', async () => {
    const id = randomUUID();
    await converse(acme, 'web', id, 'hello');
    const noTenant = await request('GET', url('web', id), ADMIN_KEY);
    expect(noTenant.status).toBe(400);
    expect((await json(noTenant)).error.code).toBe('missing_tenant');
    const res = await request('GET', url('web', id), ADMIN_KEY, undefined, { 'x-tenant': 'acme' });
    expect(res.status).toBe(200);
    expect((await json(res)).turns).toBe(1);
  });
});

describe('conversation routes', () => {
  it('GET state: from the query while open, from Postgres when no run is open; 404 when unknown', async () => {
    const id = randomUUID();
    await converse(acme, 'web', id, 'one');
    const open = await json(await request('GET', url('web', id), acme));
    expect(open).toMatchObject({
      run: 'open',
      status: 'idle',
      turns: 1,
      workflowId: `conversation:acme:web:${id}`,
    });
    await env.client.workflow.getHandle(open.workflowId).terminate('test: no run open');
    const stored = await json(await request('GET', url('web', id), acme));
    expect(stored).toMatchObject({ run: 'ended', status: 'idle', turns: 1, agent: 'assistant' });
    const unknown = await request('GET', url('web', randomUUID()), acme);
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error).toMatchObject({
      type: 'not_found_error',
      code: 'conversation_not_found',
    });
  });

  it('GET items: cursor pages in the OpenAI list shape, both orders', async () => {
    const id = randomUUID();
    await converse(acme, 'web', id, 'first', 'second', 'third');
    const all = await json(await request('GET', url('web', id, '/items?limit=100'), acme));
    expect(all).toMatchObject({ object: 'list', has_more: false });
    // Per turn: the user's message, the model's reasoning item, its answer (as the live API lists them).
    expect(all.data).toHaveLength(9);
    expect(all.data[0]).toMatchObject({
      object: 'conversation.item',
      id: '1',
      turn: 1,
      item: { role: 'user' },
    });
    expect(all.data[1]).toMatchObject({ id: '2', turn: 1, item: { type: 'reasoning' } });
    expect(all.data[2]).toMatchObject({ id: '3', turn: 1, item: { type: 'message', role: 'assistant' } });

    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await json(
        await request('GET', url('web', id, `/items?limit=4${after ? `&after=${after}` : ''}`), acme),
      );
      seen.push(...page.data.map((i: { id: string }) => i.id));
      expect(page.first_id).toBe(page.data[0].id);
      if (!page.has_more) break;
      after = page.last_id;
    }
    expect(seen).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const desc = await json(await request('GET', url('web', id, '/items?order=desc&limit=2'), acme));
    expect(desc.data.map((i: { id: string }) => i.id)).toEqual(['9', '8']);
    expect(desc.has_more).toBe(true);
    const bad = await request('GET', url('web', id, '/items?limit=1000'), acme);
    expect((await json(bad)).error.param).toBe('limit');
    expect((await json(await request('GET', url('web', id, '/items?after=abc'), acme))).error.param).toBe(
      'after',
    );
  });

  it('GET /v1/conversations: the tenant’s conversations, filtered and paged by cursor', async () => {
    const tenantKey = await env.keyFor('lister');
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await converse(tenantKey, 'web', ids[0]!, 'a');
    await converse(tenantKey, 'sms', ids[1]!, 'b');
    await converse(tenantKey, 'web', ids[2]!, 'c');
    const first = await json(await request('GET', `${base}/v1/conversations?limit=2`, tenantKey));
    expect(first.data.map((c: { conversationId: string }) => c.conversationId)).toEqual([ids[2], ids[1]]);
    expect(first.has_more).toBe(true);
    const second = await json(
      await request('GET', `${base}/v1/conversations?limit=2&cursor=${first.next_cursor}`, tenantKey),
    );
    expect(second.data.map((c: { conversationId: string }) => c.conversationId)).toEqual([ids[0]]);
    expect(second.has_more).toBe(false);
    const web = await json(await request('GET', `${base}/v1/conversations?channel=web`, tenantKey));
    expect(web.data).toHaveLength(2);
    const badCursor = await request('GET', `${base}/v1/conversations?cursor=nonsense`, tenantKey);
    expect((await json(badCursor)).error).toMatchObject({ code: 'invalid_cursor', param: 'cursor' });
    const badStatus = await request('GET', `${base}/v1/conversations?status=open`, tenantKey);
    expect((await json(badStatus)).error.param).toBe('status');
  });

  it('POST reset starts a new segment: the model forgets', async () => {
    const id = randomUUID();
    await converse(acme, 'web', id, 'remember me');
    const res = await request('POST', url('web', id, '/reset'), acme);
    expect(res.status).toBe(202);
    await expect
      .poll(async () => (await json(await request('GET', url('web', id), acme))).segment, { timeout: 10_000 })
      .toBe(1);
    const after = await json(
      await request('POST', url('web', id, '/messages?wait=true'), acme, { text: 'who?' }),
    );
    expect(after.reply.text).toContain('[context: 1 user messages');
  });

  it('DELETE closes; a reset of a closed conversation is a 409; ?purge=true deletes the transcript', async () => {
    const id = randomUUID();
    await converse(acme, 'web', id, 'private words');
    const closing = await request('DELETE', url('web', id), acme);
    expect(closing.status).toBe(202);
    await expect
      .poll(async () => (await json(await request('GET', url('web', id), acme))).status, { timeout: 10_000 })
      .toBe('closed');
    const reset = await request('POST', url('web', id, '/reset'), acme);
    expect(reset.status).toBe(409);
    expect((await json(reset)).error).toMatchObject({ type: 'conflict_error', code: 'conversation_closed' });

    const other = randomUUID();
    await converse(acme, 'web', other, 'delete me');
    const purged = await request('DELETE', url('web', other, '?purge=true'), acme);
    expect(purged.status).toBe(200);
    expect(await json(purged)).toMatchObject({ status: 'closed', purged: true, itemsDeleted: 3 });
    const items = await json(await request('GET', url('web', other, '/items'), acme));
    expect(items.data).toEqual([]);
    const { rows } = await env.db.pool.query(
      'SELECT count(*)::int AS n FROM session_items WHERE session_id = $1',
      [`conversation:acme:web:${other}`],
    );
    expect(rows[0].n).toBe(0);
    expect((await request('DELETE', url('web', other, '?purge=maybe'), acme)).status).toBe(400);
  });

  it('usage per conversation and per tenant', async () => {
    const key = await env.keyFor('billing');
    const id = randomUUID();
    await converse(key, 'web', id, 'count me', 'and me');
    const conv = await json(await request('GET', url('web', id, '/usage'), key));
    expect(conv.calls).toBe(2);
    expect(conv.inputTokens).toBeGreaterThan(0);
    const tenant = await json(await request('GET', `${base}/v1/usage`, key));
    expect(tenant).toMatchObject({ tenant: 'billing', calls: 2 });
    expect(tenant.byModel).toHaveLength(1);
    const none = await json(await request('GET', `${base}/v1/usage?from=2999-01-01T00:00:00Z`, key));
    expect(none.calls).toBe(0);
    expect((await request('GET', `${base}/v1/usage?from=yesterday`, key)).status).toBe(400);
  });
});
