import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeWorkflowId } from '../../src/activities/purge.js';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry } from '../../src/agents/registry.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';
import { recordHistory } from '../workflows/harness.js';

let emulator: Emulator;
let env: ApiEnv;
let base: string;
let threaded: string;
let acme: string;
let globex: string;
beforeAll(async () => {
  emulator = await startEmulator();
  env = await startApiEnv({
    openaiBaseUrl: emulator.baseUrl,
    agents: createRegistry([
      defineAgent({ name: 'assistant', model: 'gpt-5-mini', instructions: 'Be brief.' }),
      defineAgent({
        name: 'threaded',
        model: 'gpt-5-mini',
        instructions: 'Be brief.',
        strategy: 'conversation',
      }),
    ]),
  });
  base = await env.start();
  threaded = await env.start({ agent: 'threaded' });
  [acme, globex] = await Promise.all([env.keyFor('acme'), env.keyFor('globex')]);
});
afterAll(async () => {
  await env?.stop();
  await emulator?.close();
});

/** What the emulator answers for a stored object, as OpenAI would: 200 while it exists, 404 once deleted. */
const openaiStatus = async (path: string) =>
  (await fetch(`${emulator.baseUrl}${path}`, { headers: { authorization: 'Bearer test-key' } })).status;

async function converse(api: string, id: string, ...texts: string[]) {
  for (const text of texts) {
    const res = await request('POST', `${api}/v1/conversations/web/${id}/messages?wait=true`, acme, { text });
    expect(res.status).toBe(200);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('purge means gone', () => {
  it('deletes the stored responses and the OpenAI conversation, through an OpenAI outage', async () => {
    const chained = randomUUID();
    const withConversation = randomUUID();
    await converse(base, chained, 'one', 'two');
    await converse(threaded, withConversation, 'hello');
    const idOf = (externalId: string) =>
      conversationWorkflowId({ tenant: 'acme', channel: 'web', externalId });
    const calls = await env.db.pool.query<{ response_id: string; openai_conversation_id: string | null }>(
      'SELECT response_id, openai_conversation_id FROM model_calls WHERE conversation_id = ANY($1) ORDER BY id',
      [[idOf(chained), idOf(withConversation)]],
    );
    const responseIds = calls.rows.map((r) => r.response_id);
    const conversationIds = [...new Set(calls.rows.flatMap((r) => r.openai_conversation_id ?? []))];
    expect(responseIds).toHaveLength(3);
    expect(conversationIds).toHaveLength(1);
    for (const id of responseIds) expect(await openaiStatus(`/responses/${id}`)).toBe(200);
    expect(await openaiStatus(`/conversations/${conversationIds[0]}`)).toBe(200);

    // OpenAI answers 503 to the first deletions, then recovers.
    emulator.faults.add({
      kind: 'server_error',
      status: 503,
      times: 4,
      match: { method: 'DELETE', path: '^/v1/(responses|conversations)/' },
    });
    const impatient = await env.start({ replyWaitMs: 200 });
    // Both conversations still have an open run: the purge closes it first.
    const first = await request('DELETE', `${impatient}/v1/conversations/web/${chained}?purge=true`, acme);
    expect(first.status).toBe(202);
    expect(await json(first)).toMatchObject({ status: 'purging', purged: false });
    const second = await request(
      'DELETE',
      `${base}/v1/conversations/web/${withConversation}?purge=true`,
      acme,
    );
    expect(second.status).toBe(200);
    // The user's message, the model's reasoning item and its answer.
    expect(await json(second)).toMatchObject({ status: 'closed', purged: true, itemsDeleted: 3 });

    const record = await until('the purge record', async () => {
      const r = await json(await request('GET', `${base}/v1/conversations/web/${chained}/purge`, acme));
      return r.status === 'completed' ? r : undefined;
    });
    expect(record).toMatchObject({ itemsDeleted: 6, runsDeleted: 1 }); // two turns of three items
    // A purge that retried through the outage: the shape replay.test.ts keeps working.
    const purge = env.client.workflow.getHandle(purgeWorkflowId(idOf(chained)));
    await purge.result();
    await recordHistory('v2-purge-through-outage', purge);
    expect(record.openai).toEqual(
      [...responseIds.slice(0, 2)]
        .sort()
        .map((id) => ({ kind: 'response', id, status: 'deleted', detail: null })),
    );
    const deletions = emulator.requests().filter((r) => r.method === 'DELETE');
    expect(deletions.filter((r) => r.status === 503)).toHaveLength(4);

    for (const id of responseIds) expect(await openaiStatus(`/responses/${id}`)).toBe(404);
    expect(await openaiStatus(`/conversations/${conversationIds[0]}`)).toBe(404);
    const other = await json(
      await request('GET', `${base}/v1/conversations/web/${withConversation}/purge`, acme),
    );
    expect(other.openai.map((t: { kind: string }) => t.kind).sort()).toEqual(['conversation', 'response']);

    // Postgres: no items.
    const items = await env.db.pool.query('SELECT 1 FROM session_items WHERE session_id = $1', [
      idOf(chained),
    ]);
    expect(items.rowCount).toBe(0);
    // Temporal accepted the deletion of the run (runsDeleted above); it removes it asynchronously.

    // Idempotent: again, everything is already gone (OpenAI's 404 counts as deleted).
    const again = await request('DELETE', `${base}/v1/conversations/web/${chained}?purge=true`, acme);
    expect(await json(again)).toMatchObject({ status: 'closed', purged: true, itemsDeleted: 0 });
    const after = await json(await request('GET', `${base}/v1/conversations/web/${chained}/purge`, acme));
    expect(after.status).toBe('completed');
    expect(after.openai.every((t: { detail: string }) => t.detail === 'already gone')).toBe(true);

    // The record is the tenant's: another tenant finds nothing, the admin reads it with X-Tenant.
    expect((await request('GET', `${base}/v1/conversations/web/${chained}/purge`, globex)).status).toBe(404);
    const asAdmin = await request(
      'GET',
      `${base}/v1/conversations/web/${chained}/purge`,
      ADMIN_KEY,
      undefined,
      {
        'x-tenant': 'acme',
      },
    );
    expect(asAdmin.status).toBe(200);
  });
});
