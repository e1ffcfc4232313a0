import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry } from '../../src/agents/registry.js';
import { hmacHex, signPayload } from '../../src/channels/signature.js';
import { loadConfig } from '../../src/config.js';
import { mergeChannels } from '../../src/public/channels.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import type { Routing } from '../../src/agents/routing.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/**
 * A two-tenant deployment: each tenant's conversations are answered by its own agent, a tenant may
 * pick another agent it is allowed in its first message, and never another tenant's.
 */
const MODEL = 'gpt-5-mini';
const agent = (name: string, instructions: string) => defineAgent({ name, model: MODEL, instructions });
const routing: Routing = {
  defaultAgent: 'assistant',
  rules: [
    { tenant: 'acme', agent: 'acme-bot' },
    { tenant: 'globex', agent: 'globex-bot' },
  ],
  allow: { acme: ['acme-sales'] },
};

let env: ApiEnv;
let emulator: Emulator;
let base: string;
let acme: string;
let globex: string;
beforeAll(async () => {
  emulator = await startEmulator();
  env = await startApiEnv({
    openaiBaseUrl: emulator.baseUrl,
    agents: createRegistry([
      agent('assistant', 'You are a generic assistant.'),
      agent('acme-bot', 'You are the Acme agent.'),
      agent('acme-sales', 'You are Acme sales.'),
      agent('globex-bot', 'You are the Globex agent.'),
    ]),
  });
  base = await env.start({ routing });
  acme = await env.keyFor('acme');
  globex = await env.keyFor('globex');
});
afterAll(async () => {
  await env?.stop();
  await emulator?.close();
});

const send = (key: string, id: string, body: Record<string, unknown>) =>
  request('POST', `${base}/v1/conversations/web/${id}/messages?wait=true`, key, { text: 'hello', ...body });

/** The instructions of the model requests made for a conversation, oldest first. */
function instructionsFor(externalId: string): unknown[] {
  return emulator
    .requests()
    .filter((r) => r.method === 'POST' && r.path === '/v1/responses')
    .map((r) => r.body as { instructions?: string; metadata?: Record<string, string> })
    .filter((b) => b.metadata?.conversation === externalId)
    .map((b) => b.instructions);
}

async function shownAgent(key: string, id: string): Promise<string> {
  return (await json(await request('GET', `${base}/v1/conversations/web/${id}`, key))).agent;
}

describe('routing in a two-tenant deployment', () => {
  it("answers each tenant's conversations with its own agent, and shows which", async () => {
    const a = randomUUID();
    const b = randomUUID();
    const [ra, rb] = await Promise.all([send(acme, a, {}), send(globex, b, {})]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    expect(instructionsFor(a)).toEqual(['You are the Acme agent.']);
    expect(instructionsFor(b)).toEqual(['You are the Globex agent.']);
    expect(await shownAgent(acme, a)).toBe('acme-bot');
    expect(await shownAgent(globex, b)).toBe('globex-bot');
    const listed = await json(await request('GET', `${base}/v1/conversations`, acme));
    expect(listed.data.find((s: { conversationId: string }) => s.conversationId === a)?.agent).toBe(
      'acme-bot',
    );
  });

  it('the first message may pick an agent the tenant is allowed', async () => {
    const id = randomUUID();
    const res = await send(acme, id, { agent: 'acme-sales' });
    expect(res.status).toBe(200);
    expect((await json(res)).note).toBeUndefined();
    expect(instructionsFor(id)).toEqual(['You are Acme sales.']);
    expect(await shownAgent(acme, id)).toBe('acme-sales');
  });

  it("refuses another tenant's agent exactly as an unknown one, listing only the caller's own; nothing is accepted", async () => {
    const id = randomUUID();
    const theirs = await send(globex, id, { agent: 'acme-bot' });
    const unknown = await send(globex, id, { agent: 'no-such-agent' });
    expect([theirs.status, unknown.status]).toEqual([403, 403]);
    const [t, u] = [(await json(theirs)).error, (await json(unknown)).error];
    expect(t).toMatchObject({ type: 'permission_error', code: 'agent_not_allowed', param: 'agent' });
    expect(t.message).toBe(
      'agent "acme-bot" is not available to this tenant: use one of assistant, globex-bot, or omit agent for the routed one.',
    );
    expect(u.message.replace('no-such-agent', 'acme-bot')).toBe(t.message);
    expect(t.message).not.toMatch(/acme-sales/);
    // Nothing started: the conversation does not exist.
    expect((await request('GET', `${base}/v1/conversations/web/${id}`, globex)).status).toBe(404);
    expect(instructionsFor(id)).toEqual([]);
  });

  it('an agent for an existing conversation is ignored, with a note; the conversation keeps its agent', async () => {
    const id = randomUUID();
    await send(acme, id, {});
    const res = await send(acme, id, { agent: 'acme-sales' });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.note).toBe(
      'agent ignored: the conversation exists and is answered by its current agent "acme-bot".',
    );
    expect(body.reply.status).toBe('answered');
    expect(instructionsFor(id)).toEqual(['You are the Acme agent.', 'You are the Acme agent.']);
  });

  it('a malformed agent name is a 400 naming the field, and the document states the constraint', async () => {
    const res = await send(acme, randomUUID(), { agent: 'has space' });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ type: 'invalid_request_error', param: 'agent' });
    const doc = await json(await request('GET', `${base}/openapi.json`, null));
    expect(doc.components.schemas.MessageInput.properties.agent).toMatchObject({
      type: 'string',
      pattern: '^[\\w.-]{1,64}$',
    });
  });
});

describe('routing on the signed webhook', () => {
  const SECRET = 'routing-webhook-secret';
  let hook: string;
  beforeAll(async () => {
    hook = await env.start({
      routing: {
        ...routing,
        rules: [...routing.rules!, { tenant: 'acme', channel: 'sms', agent: 'acme-sales' }],
      },
      channels: {
        whatsapp: undefined,
        webhook: {
          secret: SECRET,
          channels: ['sms'],
          tenant: 'acme',
          toleranceSeconds: 300,
          callbackUrl: undefined,
        },
      },
    });
  });
  const post = (body: Record<string, unknown>) => {
    const raw = JSON.stringify({ id: randomUUID(), text: 'hi', ...body });
    const ts = Math.floor(Date.now() / 1000);
    return fetch(`${hook}/v1/webhooks/sms`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-threadline-timestamp': String(ts),
        'x-threadline-signature': signPayload(SECRET, ts, raw),
      },
      body: raw,
    });
  };

  it("routes by the webhook's tenant and channel, and refuses another tenant's agent", async () => {
    const id = randomUUID();
    expect((await post({ conversationId: id })).status).toBe(202);
    await expect.poll(() => instructionsFor(id), { timeout: 15_000 }).toEqual(['You are Acme sales.']);
    const refused = await post({ conversationId: randomUUID(), agent: 'globex-bot' });
    expect(refused.status).toBe(403);
    expect((await json(refused)).error).toMatchObject({ code: 'agent_not_allowed', param: 'agent' });
  });
});

describe('routing on the WhatsApp webhook, numbers declared in threadline.config.ts', () => {
  const APP_SECRET = 'routing-whatsapp-app-secret';
  const [ACME_NUMBER, ACME_SALES_NUMBER, GLOBEX_NUMBER] = ['7001', '7002', '7003'];
  let wa: string;
  beforeAll(async () => {
    // As `threadline api` builds it: the environment's secrets, the config file's numbers.
    const env_ = loadConfig({
      DATABASE_URL: 'postgres://u:p@localhost:5432/db',
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_VERIFY_TOKEN: 'routing-whatsapp-verify',
    });
    const merged = mergeChannels(
      { channels: env_.channels, env: {} },
      {
        whatsapp: {
          numbers: [
            { phoneNumberId: ACME_NUMBER, tenant: 'acme' },
            { phoneNumberId: ACME_SALES_NUMBER, tenant: 'acme', agent: 'acme-sales' },
            { phoneNumberId: GLOBEX_NUMBER, tenant: 'globex' },
          ],
        },
      },
      ['assistant', 'acme-bot', 'acme-sales', 'globex-bot'],
    );
    expect(merged.problems).toEqual([]);
    wa = await env.start({ routing, channels: merged.channels });
  });

  const post = (phoneNumberId: string, from: string) => {
    const raw = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'WABA',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: `1555${phoneNumberId}`, phone_number_id: phoneNumberId },
                contacts: [{ wa_id: from, profile: { name: 'Ada' } }],
                messages: [
                  {
                    from,
                    id: `wamid.${randomUUID()}`,
                    timestamp: String(Math.floor(Date.now() / 1000)),
                    type: 'text',
                    text: { body: 'hello' },
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    return fetch(`${wa}/v1/webhooks/whatsapp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${hmacHex(APP_SECRET, raw)}`,
      },
      body: raw,
    });
  };

  it("answers each number with its tenant's agent, or the number's own", async () => {
    const [a, s, g] = ['3510001', '3510002', '3510003'].map((n) => `${n}${Date.now() % 100_000}`);
    for (const [number, from] of [
      [ACME_NUMBER, a],
      [ACME_SALES_NUMBER, s],
      [GLOBEX_NUMBER, g],
    ] as const)
      expect((await post(number, from!)).status).toBe(200);
    await expect.poll(() => instructionsFor(a!), { timeout: 15_000 }).toEqual(['You are the Acme agent.']);
    await expect.poll(() => instructionsFor(s!), { timeout: 15_000 }).toEqual(['You are Acme sales.']);
    await expect.poll(() => instructionsFor(g!), { timeout: 15_000 }).toEqual(['You are the Globex agent.']);
    const shown = await json(await request('GET', `${wa}/v1/conversations/whatsapp/${g}`, globex));
    expect(shown.agent).toBe('globex-bot');
    // And on the workflow, for operators searching in the Temporal UI.
    const workflowId = conversationWorkflowId({ tenant: 'globex', channel: 'whatsapp', externalId: g! });
    const listed = async () => {
      const ids: string[] = [];
      const query = `ThreadlineAgent = "globex-bot" AND WorkflowId = "${workflowId}"`;
      for await (const wf of env.client.workflow.list({ query })) ids.push(wf.workflowId);
      return ids;
    };
    await expect.poll(listed, { timeout: 15_000 }).toEqual([workflowId]);
  });
});
