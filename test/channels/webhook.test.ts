import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { senderKey } from '../../src/channels/senders.js';
import { createCallbackSender } from '../../src/channels/webhook/callback.js';
import { signPayload, verifyPayloadSignature } from '../../src/channels/signature.js';
import { json, startApiEnv, type ApiEnv } from '../support/api.js';

const SECRET = 'generic-webhook-secret';
const callbacks: { headers: IncomingHttpHeaders; raw: string }[] = [];
let receiver: Server;
let env: ApiEnv;
let base: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      callbacks.push({ headers: req.headers, raw });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"cb-1"}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/replies`;
  env = await startApiEnv({
    senders: new Map([
      [senderKey('acme', 'sms'), createCallbackSender({ url, secret: SECRET, channel: 'sms' })],
    ]),
  });
  base = await env.start({
    channels: {
      whatsapp: undefined,
      webhook: { secret: SECRET, channels: ['sms'], tenant: 'acme', toleranceSeconds: 300, callbackUrl: url },
    },
  });
});
afterAll(async () => {
  await env?.stop();
  receiver?.close();
});

function send(
  body: string,
  opts: { ts?: number; signature?: string | null; channel?: string } = {},
): Promise<Response> {
  const ts = opts.ts ?? Math.floor(Date.now() / 1000);
  const signature = opts.signature === undefined ? signPayload(SECRET, ts, body) : opts.signature;
  return fetch(`${base}/v1/webhooks/${opts.channel ?? 'sms'}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-threadline-timestamp': String(ts),
      ...(signature ? { 'x-threadline-signature': signature } : {}),
    },
    body,
  });
}

describe('signed webhook', () => {
  it('good signature: accepted, answered, and the reply comes back signed with an Idempotency-Key', async () => {
    const body = JSON.stringify({
      id: 'sms-1',
      conversationId: '+15550100',
      text: 'Are you open on Sunday?',
    });
    const res = await send(body);
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({
      status: 'accepted',
      messageId: 'sms-1',
      workflowId: 'conversation:acme:sms:%2B15550100',
    });
    await expect.poll(() => callbacks.length, { timeout: 20_000 }).toBe(1);
    const cb = callbacks[0]!;
    expect(cb.headers['idempotency-key']).toBe('conversation:acme:sms:%2B15550100/1');
    expect(
      verifyPayloadSignature({
        rawBody: Buffer.from(cb.raw),
        timestamp: cb.headers['x-threadline-timestamp'] as string,
        signature: cb.headers['x-threadline-signature'] as string,
        secret: SECRET,
        nowMs: Date.now(),
        toleranceSeconds: 60,
      }),
    ).toBe('ok');
    expect(JSON.parse(cb.raw)).toMatchObject({ channel: 'sms', conversationId: '+15550100' });
    expect(JSON.parse(cb.raw).text).toContain('Are you open on Sunday?');
  });

  it('a duplicate provider message id is acknowledged and not answered twice', async () => {
    const body = JSON.stringify({ id: 'sms-dup', conversationId: '+15550111', text: 'once' });
    expect((await send(body)).status).toBe(202);
    const again = await send(body);
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual({ status: 'duplicate', messageId: 'sms-dup' });
    await expect
      .poll(
        async () =>
          (
            await env.db.pool.query(
              `SELECT turns FROM conversations WHERE id = 'conversation:acme:sms:%2B15550111'`,
            )
          ).rows[0]?.turns,
        {
          timeout: 20_000,
        },
      )
      .toBe(1);
  });

  it('refuses missing, bad and replayed (outside the window) signatures', async () => {
    const body = JSON.stringify({ id: 'sms-x', conversationId: '1', text: 'x' });
    const missing = await send(body, { signature: null });
    expect(missing.status).toBe(401);
    expect((await json(missing)).error.code).toBe('missing_signature');
    const bad = await send(body, {
      signature: signPayload('wrong-secret-123', Math.floor(Date.now() / 1000), body),
    });
    expect((await json(bad)).error.code).toBe('invalid_signature');
    // A captured request replayed 10 minutes later: its signature is valid, its timestamp is not.
    const old = Math.floor(Date.now() / 1000) - 600;
    const replayed = await send(body, { ts: old, signature: signPayload(SECRET, old, body) });
    expect(replayed.status).toBe(401);
    expect((await json(replayed)).error.code).toBe('timestamp_out_of_window');
  });

  it('validates the signed body, and 404s channels it does not serve', async () => {
    const res = await send(JSON.stringify({ id: 'sms-y', conversationId: 'a\u0000b', text: 'x' }));
    expect(res.status).toBe(400);
    expect((await json(res)).error.param).toBe('conversationId');
    expect(
      (await send(JSON.stringify({ id: 'z', conversationId: '1', text: 'x' }), { channel: 'telegram' }))
        .status,
    ).toBe(404);
  });
});
