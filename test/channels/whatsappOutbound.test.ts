import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { tool } from '@openai/agents';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelSender } from '../../src/activities/delivery.js';
import { conciergeAgent } from '../../src/agents/concierge/index.js';
import { BookingLedger } from '../../src/agents/concierge/tools.js';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry } from '../../src/agents/registry.js';
import type { ToolContext } from '../../src/agents/types.js';
import { buildSenders } from '../../src/channels/senders.js';
import { reEngagementWorkflowId } from '../../src/channels/whatsapp/reEngagement.js';
import { hmacHex } from '../../src/channels/signature.js';
import type { ChannelsConfig } from '../../src/config.js';
import { formatSnapshot, readSnapshot } from '../../src/metrics/postgres.js';
import type { conversationWorkflow } from '../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { messageSignal, type InboundMessage } from '../../src/workflows/messages.js';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/**
 * WhatsApp out, webhook to Graph API: tools' channel actions delivered in order before the text,
 * status webhooks on the ledger, the 24-hour window (template or blocked, and Meta's 131047), read
 * receipts, and two numbers of two tenants each answering from its own number.
 */

const APP_SECRET = 'whatsapp-app-secret-outbound';
const MODEL = 'gpt-5-mini';
const ACME_NUMBER = '1055';
const BETA_NUMBER = '2002';
/** A recipient Meta refuses free-form messages to at once (131047), as if the window had closed. */
const REFUSED = '390000131047';
const TEMPLATE = { name: 'reopen_conversation', language: 'it' };
const statuses = JSON.parse(
  readFileSync(new URL('../fixtures/whatsapp-out/statuses.json', import.meta.url), 'utf8'),
);

interface GraphRequest {
  path: string;
  auth: string | undefined;
  body: { to?: string; type?: string; status?: string; [k: string]: unknown };
  id: string | null;
}
const graph: GraphRequest[] = [];
let fake: Server;
let env: ApiEnv;
let base: string;
let acmeKey: string;
let intruderKey: string;
let flakyAttempts = 0;

/** Sends a document, then fails its first attempt: the retry sends again, the ledger keeps one. */
const flakySend = tool({
  name: 'flaky_send',
  description: 'Sends a document, failing once after sending.',
  parameters: z.object({}),
  strict: true,
  // Errors reach Temporal (a retry), not the model.
  errorFunction: null,
  execute: async (_args, runContext) => {
    const ctx = (runContext as { context: ToolContext }).context;
    await ctx.send({ type: 'document', url: 'https://t.example/voucher.pdf', filename: 'voucher.pdf' });
    flakyAttempts += 1;
    if (flakyAttempts === 1) throw new Error('booking system hiccup');
    return 'sent';
  },
});

beforeAll(async () => {
  fake = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as GraphRequest['body'];
      const reply = (status: number, answer: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      if (body.status === 'read') {
        graph.push({ path: req.url!, auth: req.headers.authorization, body, id: null });
        return reply(200, { success: true });
      }
      if (body.to === REFUSED && body.type !== 'template')
        return reply(400, {
          error: { message: 'Re-engagement message', type: 'OAuthException', code: 131047, fbtrace_id: 'x' },
        });
      const id = `wamid.out${graph.length + 1}`;
      graph.push({ path: req.url!, auth: req.headers.authorization, body, id });
      reply(200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: body.to, wa_id: body.to }],
        messages: [{ id }],
      });
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const apiBaseUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v23.0`;
  const channels: ChannelsConfig = {
    whatsapp: {
      appSecret: APP_SECRET,
      verifyToken: 'verify-token-outbound',
      accessToken: undefined,
      phoneNumberId: undefined,
      apiBaseUrl,
      tenant: 'default',
      numbers: [
        { phoneNumberId: ACME_NUMBER, tenant: 'acme', agent: 'concierge', accessToken: 'acme-token' },
        { phoneNumberId: BETA_NUMBER, tenant: 'beta', agent: 'concierge_tpl', accessToken: 'beta-token' },
      ],
    },
    webhook: undefined,
  };
  const concierge = conciergeAgent(MODEL, new BookingLedger());
  const agents = createRegistry([
    concierge,
    defineAgent({ ...concierge, name: 'concierge_tpl', whatsappTemplate: TEMPLATE }),
    defineAgent({ name: 'flaky', model: MODEL, instructions: 'Test.', tools: [flakySend] }),
  ]);
  // The senders read the conversation's number from Postgres: filled once the database exists.
  const senders = new Map<string, ChannelSender>();
  env = await startApiEnv({ senders, agents });
  for (const [k, v] of buildSenders(channels, env.db.pool)) senders.set(k, v);
  base = await env.start({ channels, agent: 'concierge' });
  acmeKey = await env.keyFor('acme');
  intruderKey = await env.keyFor('intruder');
});
afterAll(async () => {
  await env?.stop();
  fake?.close();
});

function webhookBody(phoneNumberId: string, value: { messages?: unknown[]; statuses?: unknown[] }) {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'WABA',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: `1555000${phoneNumberId}`, phone_number_id: phoneNumberId },
              contacts: [{ wa_id: '0', profile: { name: 'Ada' } }],
              ...value,
            },
          },
        ],
      },
    ],
  });
}

async function postWebhook(body: string) {
  const res = await fetch(`${base}/v1/webhooks/whatsapp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${hmacHex(APP_SECRET, body)}`,
    },
    body,
  });
  expect(res.status).toBe(200);
  return json(res);
}

let seq = 0;
const inbound = (from: string, text: string, sentAt = Date.now()) => ({
  from,
  id: `wamid.in${++seq}.${from}`,
  timestamp: String(Math.floor(sentAt / 1000)),
  type: 'text',
  text: { body: text },
});

interface LedgerRow {
  part: string;
  status: string;
  provider_message_id: string | null;
  provider_status: string | null;
  provider_error_code: number | null;
  error: string | null;
}
const ledger = async (workflowId: string) =>
  (
    await env.db.pool.query<LedgerRow>(
      `SELECT part, status, provider_message_id, provider_status, provider_error_code, error
         FROM deliveries WHERE conversation_id = $1 ORDER BY turn, part`,
      [workflowId],
    )
  ).rows;

/** Waits until the turn's text is settled (sent, blocked or failed). */
async function settled(workflowId: string, turn = 1) {
  await expect
    .poll(
      async () =>
        (
          await env.db.pool.query(
            `SELECT status FROM deliveries WHERE conversation_id = $1 AND turn = $2 AND part = 'text'`,
            [workflowId, turn],
          )
        ).rows[0]?.status,
      { timeout: 30_000, interval: 200 },
    )
    .toMatch(/^(sent|blocked|failed)$/);
  return ledger(workflowId);
}

const sendsTo = (to: string) => graph.filter((g) => g.body.to === to && g.body.status !== 'read');
const wid = (tenant: string, externalId: string) =>
  conversationWorkflowId({ tenant, channel: 'whatsapp', externalId });

describe('tools send channel actions', () => {
  const guest = '393330000001';
  const workflowId = wid('acme', guest);

  it("the concierge's menu PDF and location go out before the text, each once with its provider message id, from the conversation's number", async () => {
    const message = inbound(guest, 'call send_menu and call send_location');
    expect(await postWebhook(webhookBody(ACME_NUMBER, { messages: [message] }))).toMatchObject({
      received: 1,
    });
    const rows = await settled(workflowId);

    // Marked read with the typing indicator at turn start, from the same number.
    const read = graph.find((g) => g.body.status === 'read' && g.body.message_id === message.id);
    expect(read).toMatchObject({ path: `/v23.0/${ACME_NUMBER}/messages`, auth: 'Bearer acme-token' });
    expect(read!.body.typing_indicator).toEqual({ type: 'text' });

    const sent = sendsTo(guest);
    expect(sent.map((s) => s.body.type).slice(-1)).toEqual(['text']);
    expect(
      sent
        .map((s) => s.body.type)
        .slice(0, 2)
        .sort(),
    ).toEqual(['document', 'location']);
    expect(
      sent.every((s) => s.path === `/v23.0/${ACME_NUMBER}/messages` && s.auth === 'Bearer acme-token'),
    ).toBe(true);
    const doc = sent.find((s) => s.body.type === 'document')!;
    expect(doc.body.document).toEqual({
      link: 'https://threadline.example/trattoria/menu.pdf',
      filename: 'menu.pdf',
      caption: 'Trattoria Threadline: our menu',
    });
    expect(sent.find((s) => s.body.type === 'location')!.body.location).toMatchObject({
      name: 'Trattoria Threadline',
      latitude: 41.8986,
    });

    // One ledger row per message, each with the id Meta returned, in the order they were sent.
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    const res = await request('GET', `${base}/v1/conversations/whatsapp/${guest}/deliveries`, acmeKey);
    const view = (await json(res)).data as {
      part: string;
      providerMessageId: string;
      action: { type: string };
    }[];
    expect(view.map((d) => d.providerMessageId)).toEqual(sent.map((s) => s.id));
    expect(view.map((d) => d.action?.type ?? d.part)).toEqual(sent.map((s) => s.body.type));
  });

  it('a tool retried after it sent records its action once: one document goes out', async () => {
    const external = '393330000002';
    const input = { tenant: 'acme', channel: 'whatsapp', externalId: external, agent: 'flaky' };
    const message: InboundMessage = {
      id: 'api-flaky-1',
      text: 'call flaky_send',
      receivedAt: new Date().toISOString(),
    };
    await env.client.workflow.signalWithStart<typeof conversationWorkflow, [InboundMessage]>(
      'conversationWorkflow',
      {
        workflowId: wid('acme', external),
        taskQueue: env.taskQueue,
        args: [input],
        signal: messageSignal,
        signalArgs: [message],
      },
    );
    const rows = await settled(wid('acme', external));
    expect(flakyAttempts).toBe(2);
    expect(sendsTo(external).map((s) => s.body.type)).toEqual(['document', 'text']);
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent']);
  });
});

describe('status webhooks', () => {
  const guest = '393330000003';
  const workflowId = wid('acme', guest);

  it('move a message forward only (read is kept when delivered comes late); a failure shows in the API and metrics with its code', async () => {
    await postWebhook(webhookBody(ACME_NUMBER, { messages: [inbound(guest, 'call send_menu')] }));
    await settled(workflowId);
    const [doc, text] = sendsTo(guest);
    const status = (s: keyof typeof statuses, id: string) => ({ ...statuses[s], id });
    await postWebhook(
      webhookBody(ACME_NUMBER, {
        statuses: [status('sent', doc!.id!), status('read', doc!.id!), status('delivered', doc!.id!)],
      }),
    );
    // Unknown ids and another tenant's number touch nothing (and are still acknowledged).
    await postWebhook(webhookBody(ACME_NUMBER, { statuses: [status('failed131026', 'wamid.unknown')] }));
    await postWebhook(webhookBody(BETA_NUMBER, { statuses: [status('failed131026', text!.id!)] }));
    expect((await ledger(workflowId)).find((r) => r.part === 'text')!.provider_status).toBeNull();

    await postWebhook(webhookBody(ACME_NUMBER, { statuses: [status('failed131026', text!.id!)] }));
    const rows = await ledger(workflowId);
    expect(rows.find((r) => r.provider_message_id === doc!.id)!.provider_status).toBe('read');
    expect(rows.find((r) => r.part === 'text')).toMatchObject({
      provider_status: 'failed',
      provider_error_code: 131026,
    });

    const view = (
      await json(await request('GET', `${base}/v1/conversations/whatsapp/${guest}/deliveries`, acmeKey))
    ).data as { part: string; providerStatus: string; errorCode: number | null; errorTitle: string | null }[];
    expect(view.find((d) => d.part === 'text')).toMatchObject({
      providerStatus: 'failed',
      errorCode: 131026,
      errorTitle: 'Message undeliverable',
    });
    // Another tenant's key does not see the conversation.
    expect(
      (await request('GET', `${base}/v1/conversations/whatsapp/${guest}/deliveries`, intruderKey)).status,
    ).toBe(404);
    const metrics = formatSnapshot(await readSnapshot(env.db.pool));
    expect(metrics).toMatch(/threadline_delivery_failures_total\{channel="whatsapp",code="131026"\} 1/);
    expect(metrics).toMatch(/threadline_delivery_status_total\{channel="whatsapp",status="read"\} [1-9]/);
  });
});

describe('the 24-hour customer service window', () => {
  const dayAndAHourAgo = () => Date.now() - 25 * 3600_000;

  it('outside it, an agent with a template sends the template instead (from its own number); one without records the messages blocked', async () => {
    const withTemplate = '393330000004';
    const without = '393330000005';
    await postWebhook(
      webhookBody(BETA_NUMBER, { messages: [inbound(withTemplate, 'call send_location', dayAndAHourAgo())] }),
    );
    await postWebhook(
      webhookBody(ACME_NUMBER, { messages: [inbound(without, 'hello again', dayAndAHourAgo())] }),
    );

    const beta = await settled(wid('beta', withTemplate));
    expect(beta.map((r) => [r.part.replace(/\d+$/, 'N'), r.status])).toEqual([
      ['action/N', 'blocked'],
      ['template', 'sent'],
      ['text', 'blocked'],
    ]);
    expect(beta.find((r) => r.part === 'text')!.error).toMatch(/outside the 24-hour customer service window/);
    const out = sendsTo(withTemplate);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ path: `/v23.0/${BETA_NUMBER}/messages`, auth: 'Bearer beta-token' });
    expect(out[0]!.body.template).toEqual({ name: TEMPLATE.name, language: { code: 'it' } });

    const acme = await settled(wid('acme', without));
    expect(acme.map((r) => [r.part, r.status])).toEqual([['text', 'blocked']]);
    expect(sendsTo(without)).toHaveLength(0);
    expect(formatSnapshot(await readSnapshot(env.db.pool))).toMatch(
      /threadline_deliveries_total\{channel="whatsapp",status="blocked"\} [1-9]/,
    );
  });

  it("Meta's own refusal (131047) is handled the same way, at send time and from a status webhook", async () => {
    // At send time: the reply is blocked, the template goes out instead.
    await postWebhook(webhookBody(BETA_NUMBER, { messages: [inbound(REFUSED, 'ciao')] }));
    await settled(wid('beta', REFUSED));
    // The text is settled blocked before the template's row is written: wait for both.
    await expect
      .poll(async () => (await ledger(wid('beta', REFUSED))).map((r) => [r.part, r.status]), {
        timeout: 30_000,
        interval: 200,
      })
      .toEqual([
        ['template', 'sent'],
        ['text', 'blocked'],
      ]);
    const refused = await ledger(wid('beta', REFUSED));
    expect(refused.find((r) => r.part === 'text')!.error).toMatch(/131047/);

    // From a status webhook: the message is settled blocked and the window closes, so the next
    // reply that no customer message reopened (an API message) is blocked before it is sent.
    const guest = '393330000006';
    await postWebhook(webhookBody(ACME_NUMBER, { messages: [inbound(guest, 'hello')] }));
    const first = await settled(wid('acme', guest));
    const textId = first.find((r) => r.part === 'text')!.provider_message_id!;
    await postWebhook(webhookBody(ACME_NUMBER, { statuses: [{ ...statuses.failed131047, id: textId }] }));
    expect((await ledger(wid('acme', guest))).find((r) => r.part === 'text')).toMatchObject({
      status: 'blocked',
      provider_status: 'failed',
      provider_error_code: 131047,
    });
    const before = sendsTo(guest).length;
    const res = await request(
      'POST',
      `${base}/v1/conversations/whatsapp/${guest}/messages?wait=true`,
      acmeKey,
      {
        text: 'Reminder: your table is at 20:00',
      },
    );
    expect(res.status).toBe(200);
    const second = await settled(wid('acme', guest), 2);
    expect(second.filter((r) => r.part === 'text').map((r) => r.status)).toEqual(['blocked', 'blocked']);
    expect(sendsTo(guest)).toHaveLength(before);
  });
});

describe('131047 reported by a status webhook', () => {
  it("sends the agent's template once, as a refused send does, however often Meta redelivers the status", async () => {
    const guest = '393330000017';
    const workflowId = wid('beta', guest);
    await postWebhook(webhookBody(BETA_NUMBER, { messages: [inbound(guest, 'ciao')] }));
    const first = await settled(workflowId);
    const text = first.find((r) => r.part === 'text')!;
    expect(text.status).toBe('sent');
    const refusal = webhookBody(BETA_NUMBER, {
      statuses: [{ ...statuses.failed131047, id: text.provider_message_id }],
    });
    await postWebhook(refusal);
    await postWebhook(refusal);

    const templates = () => sendsTo(guest).filter((g) => g.body.type === 'template');
    await expect.poll(() => templates().length, { timeout: 30_000, interval: 200 }).toBe(1);
    expect(templates()[0]).toMatchObject({
      path: `/v23.0/${BETA_NUMBER}/messages`,
      auth: 'Bearer beta-token',
    });
    expect(templates()[0]!.body.template).toEqual({ name: TEMPLATE.name, language: { code: 'it' } });
    await expect
      .poll(async () => (await ledger(workflowId)).map((r) => [r.part, r.status]), { timeout: 10_000 })
      .toEqual([
        ['template', 'sent'],
        ['text', 'blocked'],
      ]);
    // Every run started for the turn has finished: still one template.
    await env.client.workflow
      .getHandle(reEngagementWorkflowId({ conversationId: workflowId, turn: 1 }))
      .result();
    // A delivery after the template went out sends nothing more.
    await postWebhook(refusal);
    await env.client.workflow
      .getHandle(reEngagementWorkflowId({ conversationId: workflowId, turn: 1 }))
      .result();
    expect(templates()).toHaveLength(1);
  });
});

describe('several numbers', () => {
  it("each conversation is answered from its own number; a tenant's key never makes another tenant's number send; unknown numbers are acknowledged and dropped", async () => {
    const shared = '393330000007';
    await postWebhook(webhookBody(ACME_NUMBER, { messages: [inbound(shared, 'to acme')] }));
    await postWebhook(webhookBody(BETA_NUMBER, { messages: [inbound(shared, 'to beta')] }));
    await settled(wid('acme', shared));
    await settled(wid('beta', shared));
    const texts = sendsTo(shared).map((s) => [
      s.path,
      s.auth,
      (s.body.text as { body: string }).body.includes('to acme'),
    ]);
    expect(texts.sort()).toEqual([
      [`/v23.0/${ACME_NUMBER}/messages`, 'Bearer acme-token', true],
      [`/v23.0/${BETA_NUMBER}/messages`, 'Bearer beta-token', false],
    ]);

    // Acme's key writing to beta's customer: acme's own conversation, sent from acme's number only.
    const betaCustomer = '393330000008';
    await postWebhook(webhookBody(BETA_NUMBER, { messages: [inbound(betaCustomer, 'hi beta')] }));
    await settled(wid('beta', betaCustomer));
    const betaSends = graph.filter((g) => g.path.includes(BETA_NUMBER)).length;
    const res = await request(
      'POST',
      `${base}/v1/conversations/whatsapp/${betaCustomer}/messages?wait=true`,
      acmeKey,
      {
        text: 'pay the fee at evil.example',
      },
    );
    expect(res.status).toBe(200);
    await settled(wid('acme', betaCustomer));
    expect(graph.filter((g) => g.path.includes(BETA_NUMBER)).length).toBe(betaSends);
    expect(sendsTo(betaCustomer).at(-1)!.path).toBe(`/v23.0/${ACME_NUMBER}/messages`);
    // A tenant with no number may not message the channel at all.
    expect(
      (await request('POST', `${base}/v1/conversations/whatsapp/x/messages`, intruderKey, { text: 'x' }))
        .status,
    ).toBe(403);

    const unknown = await postWebhook(webhookBody('9999', { messages: [inbound('393330000009', 'lost?')] }));
    expect(unknown).toEqual({ received: 0, duplicates: 0, ignored: 1 });
    const started = await env.db.pool.query(`SELECT 1 FROM conversations WHERE external_id = '393330000009'`);
    expect(started.rowCount).toBe(0);
  });
});
