import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { senderKey } from '../../src/channels/senders.js';
import { createWhatsAppSender } from '../../src/channels/whatsapp/sender.js';
import { hmacHex } from '../../src/channels/signature.js';
import { json, startApiEnv, type ApiEnv } from '../support/api.js';

const APP_SECRET = 'whatsapp-app-secret-for-tests';
const VERIFY_TOKEN = 'verify-token-for-tests';

/** A local stand-in for graph.facebook.com: fails the first send with a 500, then accepts. */
let fake: Server;
const sends: { path: string; auth: string | undefined; body: { to: string; text: { body: string } } }[] = [];
let failures = 0;
let reads = 0;
let env: ApiEnv;
let base: string;

beforeAll(async () => {
  fake = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      // Read receipts (status "read" with the typing indicator) are not replies.
      if ((JSON.parse(raw) as { status?: string }).status === 'read') {
        reads += 1;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
        return;
      }
      if (failures === 0) {
        failures += 1;
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"error":{"message":"temporarily down"}}');
        return;
      }
      sends.push({ path: req.url!, auth: req.headers.authorization, body: JSON.parse(raw) });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: `wamid.out${sends.length}` }] }),
        );
    });
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v23.0`;
  const sender = createWhatsAppSender({ baseUrl: fakeUrl, phoneNumberId: '1055', accessToken: 'wa-token' });
  env = await startApiEnv({ senders: new Map([[senderKey('acme', 'whatsapp'), sender]]) });
  base = await env.start({
    channels: {
      whatsapp: {
        appSecret: APP_SECRET,
        verifyToken: VERIFY_TOKEN,
        accessToken: 'wa-token',
        phoneNumberId: '1055',
        apiBaseUrl: fakeUrl,
        tenant: 'acme',
      },
      webhook: undefined,
    },
  });
});
afterAll(async () => {
  await env?.stop();
  fake?.close();
});

function notification(messages: unknown[], statuses: unknown[] = []) {
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
              metadata: { display_phone_number: '15550001055', phone_number_id: '1055' },
              contacts: [{ wa_id: '393331234567', profile: { name: 'Ada' } }],
              messages,
              statuses,
            },
          },
        ],
      },
    ],
  });
}

const textMessage = (id: string, body: string) => ({
  from: '393331234567',
  id,
  timestamp: '1760000000',
  type: 'text',
  text: { body },
});

function postWebhook(body: string, signature: string | null = `sha256=${hmacHex(APP_SECRET, body)}`) {
  return fetch(`${base}/v1/webhooks/whatsapp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature ? { 'x-hub-signature-256': signature } : {}),
    },
    body,
  });
}

describe('WhatsApp webhook', () => {
  it('answers the verification handshake only with the right token', async () => {
    const ok = await fetch(
      `${base}/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('1158201444');
    const wrong = await fetch(
      `${base}/v1/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`,
    );
    expect(wrong.status).toBe(403);
    const missing = await fetch(`${base}/v1/webhooks/whatsapp?hub.mode=subscribe`);
    expect(missing.status).toBe(400);
  });

  it('refuses a missing, malformed or wrong signature, and a body changed after signing', async () => {
    const body = notification([textMessage('wamid.bad', 'hello')]);
    const missing = await postWebhook(body, null);
    expect(missing.status).toBe(401);
    expect((await json(missing)).error.code).toBe('missing_signature');
    expect((await postWebhook(body, 'sha1=abc')).status).toBe(401);
    expect((await postWebhook(body, `sha256=${hmacHex('other-secret', body)}`)).status).toBe(401);
    const tampered = await postWebhook(body.replace('hello', 'HELLO'), `sha256=${hmacHex(APP_SECRET, body)}`);
    expect((await json(tampered)).error.code).toBe('invalid_signature');
  });

  it('a signed body that is not JSON is a 400', async () => {
    const res = await postWebhook('{"object": ');
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_json');
  });

  it('a text message becomes a turn, the reply is sent once although the first send fails, duplicates and statuses are ignored', async () => {
    const body = notification(
      [textMessage('wamid.in1', 'Table for two tonight?')],
      [{ id: 'wamid.out0', status: 'delivered', recipient_id: '393331234567' }],
    );
    const res = await postWebhook(body);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ received: 1, duplicates: 0, ignored: 1 });
    // Meta redelivers: acknowledged, not signalled again.
    const again = await postWebhook(body);
    expect(await json(again)).toEqual({ received: 0, duplicates: 1, ignored: 1 });

    const workflowId = 'conversation:acme:whatsapp:393331234567';
    await expect
      .poll(
        async () =>
          (await env.db.pool.query('SELECT status FROM deliveries WHERE conversation_id = $1', [workflowId]))
            .rows[0]?.status,
        {
          timeout: 20_000,
          interval: 200,
        },
      )
      .toBe('sent');
    expect(failures).toBe(1);
    expect(sends).toHaveLength(1);
    expect(reads).toBe(1);
    expect(sends[0]).toMatchObject({
      path: '/v23.0/1055/messages',
      auth: 'Bearer wa-token',
      body: { to: '393331234567' },
    });
    expect(sends[0]!.body.text.body).toContain('Table for two tonight?');
    const { rows } = await env.db.pool.query(
      'SELECT provider_message_id, attempts FROM deliveries WHERE conversation_id = $1',
      [workflowId],
    );
    expect(rows[0]).toEqual({ provider_message_id: 'wamid.out1', attempts: 2 });
    const turns = await env.db.pool.query('SELECT turns FROM conversations WHERE id = $1', [workflowId]);
    expect(turns.rows[0].turns).toBe(1);
  });

  it('non-text messages are signalled too, not ignored (whatsappInbound.test.ts has their answers)', async () => {
    const res = await postWebhook(
      notification([{ from: '1', id: 'wamid.img', type: 'image', image: { id: 'x' } }]),
    );
    expect(await json(res)).toEqual({ received: 1, duplicates: 0, ignored: 0 });
  });
});
