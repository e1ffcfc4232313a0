import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSenders } from '../../src/channels/senders.js';
import type { ChannelsConfig } from '../../src/config.js';
import type { conversationWorkflow } from '../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { messageSignal, type InboundMessage } from '../../src/workflows/messages.js';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/**
 * Outbound channels belong to a tenant: the business's WhatsApp number and the CALLBACK_URL of the
 * signed webhook. Another tenant's key must not be able to make the worker send from them, through
 * the API (403) or at all (the worker has no sender for another tenant's conversation).
 */

const OWNER = 'acme';
const SECRET = 'webhook-secret-for-ownership';
const outbound: { path: string; body: string }[] = [];
let fake: Server;
let env: ApiEnv;
let base: string;
let ownerKey: string;
let intruderKey: string;

beforeAll(async () => {
  // One fake for both providers: the Graph API's send-message call and the callback receiver.
  fake = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      outbound.push({ path: req.url!, body: raw });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: `cb-${outbound.length}`, messages: [{ id: `wamid.${outbound.length}` }] }));
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  const channels: ChannelsConfig = {
    whatsapp: {
      appSecret: 'app-secret',
      verifyToken: 'verify-token',
      accessToken: 'wa-token',
      phoneNumberId: '1055',
      apiBaseUrl: `${url}/v23.0`,
      tenant: OWNER,
    },
    webhook: {
      secret: SECRET,
      channels: ['sms'],
      tenant: OWNER,
      toleranceSeconds: 300,
      callbackUrl: `${url}/replies`,
    },
  };
  // The worker's senders come from config, as in `npm run worker`.
  env = await startApiEnv({ senders: buildSenders(channels) });
  base = await env.start({ channels });
  ownerKey = await env.keyFor(OWNER);
  intruderKey = await env.keyFor('intruder');
});
afterAll(async () => {
  await env?.stop();
  fake?.close();
});

const post = (channel: string, id: string, key: string, headers: Record<string, string> = {}) =>
  request(
    'POST',
    `${base}/v1/conversations/${channel}/${encodeURIComponent(id)}/messages?wait=true`,
    key,
    { text: 'Your parcel is held: pay the fee at evil.example' },
    headers,
  );

const deliveryStatus = async (workflowId: string) =>
  (await env.db.pool.query('SELECT status FROM deliveries WHERE conversation_id = $1', [workflowId])).rows[0]
    ?.status;

describe('outbound channels belong to a tenant', () => {
  it.each([['whatsapp'], ['sms']])(
    "another tenant's key may not message %s (403 naming the channel and its owner), and nothing is sent",
    async (channel) => {
      const res = await post(channel, '+393330000001', intruderKey);
      expect(res.status).toBe(403);
      const body = await json(res);
      expect(body.error.code).toBe('channel_owned_by_another_tenant');
      expect(body.error.message).toContain(channel);
      expect(body.error.message).toContain(OWNER);
      // The admin key acting for another tenant is refused the same way.
      const admin = await post(channel, '+393330000002', ADMIN_KEY, { 'x-tenant': 'intruder' });
      expect(admin.status).toBe(403);
      expect(outbound).toHaveLength(0);
    },
  );

  it.each([['whatsapp'], ['sms']])(
    'a conversation of another tenant on %s that reaches the worker anyway gets no sender: nothing goes out',
    async (channel) => {
      // As if a route forgot the check: the workflow is started directly, for the intruder.
      const input = { tenant: 'intruder', channel, externalId: '+393330000003', agent: 'assistant' };
      const workflowId = conversationWorkflowId(input);
      const message: InboundMessage = {
        id: `m-${channel}`,
        text: 'hello',
        receivedAt: new Date().toISOString(),
      };
      await env.client.workflow.signalWithStart<typeof conversationWorkflow, [InboundMessage]>(
        'conversationWorkflow',
        { workflowId, taskQueue: env.taskQueue, args: [input], signal: messageSignal, signalArgs: [message] },
      );
      await expect
        .poll(() => deliveryStatus(workflowId), { timeout: 20_000, interval: 200 })
        .toBe('no_sender');
      expect(outbound).toHaveLength(0);
    },
  );

  it.each([['whatsapp'], ['sms']])(
    'the owner tenant still sends through %s, with its key or the admin key',
    async (channel) => {
      const before = outbound.length;
      const res = await post(channel, '+393330000004', ownerKey);
      expect(res.status).toBe(200);
      const admin = await post(channel, '+393330000005', ADMIN_KEY, { 'x-tenant': OWNER });
      expect(admin.status).toBe(200);
      for (const id of ['+393330000004', '+393330000005'])
        await expect
          .poll(() => deliveryStatus(conversationWorkflowId({ tenant: OWNER, channel, externalId: id })), {
            timeout: 20_000,
            interval: 200,
          })
          .toBe('sent');
      expect(outbound.slice(before).map((o) => o.path)).toEqual(
        Array(2).fill(channel === 'whatsapp' ? '/v23.0/1055/messages' : '/replies'),
      );
    },
  );

  it('a channel without an integration (web chat) stays open to every tenant', async () => {
    const res = await post('web', 'visitor-1', intruderKey);
    expect(res.status).toBe(200);
  });
});
