import { describe, expect, it } from 'vitest';
import {
  hmacHex,
  signPayload,
  verifyHubSignature,
  verifyPayloadSignature,
} from '../../src/channels/signature.js';
import { parseWebhook, webhookBody } from '../../src/channels/whatsapp/payload.js';
import { sendFailure } from '../../src/channels/whatsapp/sender.js';
import { channelOwners } from '../../src/channels/owners.js';
import { senderKey } from '../../src/channels/senders.js';

describe('verifyHubSignature', () => {
  const body = Buffer.from('{"a":1}');
  it.each([
    [`sha256=${hmacHex('s', body)}`, 'ok'],
    [`sha256=${hmacHex('s', body).toUpperCase()}`, 'ok'],
    [`sha256=${hmacHex('t', body)}`, 'invalid'],
    ['sha256=short', 'invalid'],
    ['md5=abc', 'invalid'],
    [undefined, 'missing'],
  ])('%s -> %s', (header, verdict) => expect(verifyHubSignature(body, header, 's')).toBe(verdict));
});

describe('verifyPayloadSignature', () => {
  const rawBody = Buffer.from('{"id":"1"}');
  const check = (timestamp: string | undefined, signature: string | undefined, nowMs = 1_000_000_000) =>
    verifyPayloadSignature({ rawBody, timestamp, signature, secret: 'sec', nowMs, toleranceSeconds: 300 });
  it('accepts a fresh signature, any of several during rotation', () => {
    expect(check('1000000', signPayload('sec', 1_000_000, rawBody))).toBe('ok');
    expect(check('1000000', `v1=${'0'.repeat(64)}, ${signPayload('sec', 1_000_000, rawBody)}`)).toBe('ok');
  });
  it('refuses missing, wrong, re-timed and stale requests', () => {
    expect(check(undefined, 'v1=x')).toBe('missing');
    expect(check('1000000', signPayload('other', 1_000_000, rawBody))).toBe('invalid');
    expect(check('1000001', signPayload('sec', 1_000_000, rawBody))).toBe('invalid');
    expect(check('1000000', signPayload('sec', 1_000_000, rawBody), 1_000_301_000)).toBe('expired');
    expect(check('abc', 'v1=x')).toBe('invalid');
  });
});

describe('parseWebhook', () => {
  it('keeps messages with their number and time, counts statuses, sets reactions aside', () => {
    const body = webhookBody.parse({
      object: 'whatsapp_business_account',
      entry: [
        {
          changes: [
            {
              value: {
                metadata: { phone_number_id: 'P' },
                contacts: [{ wa_id: '39', profile: { name: 'Ada' } }],
                messages: [
                  { from: '39', id: 'w1', timestamp: '1700000000', type: 'text', text: { body: 'hi' } },
                  { from: '39', id: 'w2', type: 'reaction', reaction: { emoji: '👍' } },
                ],
                statuses: [{ id: 'x', status: 'read' }],
                future_field: true,
              },
            },
          ],
        },
      ],
    });
    const parsed = parseWebhook(body);
    expect(parsed.statuses).toBe(1);
    expect(parsed.messages).toHaveLength(1);
    expect(parsed.messages[0]).toMatchObject({
      id: 'w1',
      from: '39',
      text: 'hi',
      name: 'Ada',
      phoneNumberId: 'P',
      sentAt: '2023-11-14T22:13:20.000Z',
    });
    // A reaction is recorded with the conversation, never answered: it is not a message.
    expect(parsed.reactions).toEqual([expect.objectContaining({ id: 'w2', from: '39', emoji: '👍' })]);
  });
});

describe('sendFailure', () => {
  it.each([
    [429, false],
    [503, false],
    [408, false],
    [400, true],
    [401, true],
  ])('%i nonRetryable=%s', (status, nonRetryable) => {
    expect(sendFailure('X', status, 'detail')).toMatchObject({ nonRetryable });
  });
});

describe('channelOwners and senderKey', () => {
  it('WhatsApp belongs to WHATSAPP_TENANT, webhook channels to WEBHOOK_TENANT, others to nobody', () => {
    const owners = channelOwners({
      whatsapp: {
        appSecret: 'a',
        verifyToken: 'v',
        accessToken: undefined,
        phoneNumberId: undefined,
        apiBaseUrl: 'https://graph.facebook.com/v23.0',
        tenant: 'acme',
      },
      webhook: {
        secret: 's',
        channels: ['sms', 'telegram'],
        tenant: 'beta',
        toleranceSeconds: 300,
        callbackUrl: undefined,
      },
    });
    expect([...owners]).toEqual([
      ['whatsapp', ['acme']],
      ['sms', ['beta']],
      ['telegram', ['beta']],
    ]);
    expect(channelOwners(undefined).size).toBe(0);
  });

  it('a sender key cannot be forged by a tenant or channel name containing the separator', () => {
    expect(senderKey('a:b', 'c')).not.toBe(senderKey('a', 'b:c'));
  });
});
