import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, pure. Comparisons are constant-time over equal-length digests, so a caller
 * learns nothing from how long a wrong signature took to refuse.
 */

export type Verdict = 'ok' | 'missing' | 'invalid' | 'expired';

export function hmacHex(secret: string, data: Buffer | string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

function sameHex(expectedHex: string, givenHex: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(givenHex)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(givenHex.toLowerCase(), 'hex'));
}

/** WhatsApp Cloud API: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed by the app secret>`. */
export function verifyHubSignature(rawBody: Buffer, header: string | undefined, appSecret: string): Verdict {
  if (!header) return 'missing';
  const match = /^sha256=(.+)$/.exec(header.trim());
  if (!match) return 'invalid';
  return sameHex(hmacHex(appSecret, rawBody), match[1]!) ? 'ok' : 'invalid';
}

/**
 * The generic webhook scheme, used both ways (inbound webhooks and outbound callbacks):
 * `X-Threadline-Timestamp: <unix seconds>` and `X-Threadline-Signature: v1=<hex HMAC-SHA256 of
 * "{timestamp}.{raw body}">`. Signing the timestamp with the body lets the receiver refuse replays
 * outside a window; within it, the provider message id dedupes.
 */
export function signPayload(secret: string, timestampSeconds: number, rawBody: Buffer | string): string {
  return `v1=${hmacHex(secret, Buffer.concat([Buffer.from(`${timestampSeconds}.`), Buffer.from(rawBody)]))}`;
}

export function verifyPayloadSignature(input: {
  rawBody: Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  secret: string;
  nowMs: number;
  toleranceSeconds: number;
}): Verdict {
  if (!input.timestamp || !input.signature) return 'missing';
  if (!/^\d{1,12}$/.test(input.timestamp)) return 'invalid';
  const ts = Number(input.timestamp);
  const expected = signPayload(input.secret, ts, input.rawBody).slice(3);
  // Several signatures may be sent during a secret rotation: any valid one will do.
  const valid = input.signature
    .split(',')
    .map((s) => s.trim())
    .some((s) => s.startsWith('v1=') && sameHex(expected, s.slice(3)));
  if (!valid) return 'invalid';
  // Checked after the signature, so an attacker cannot probe the window with unsigned requests.
  if (Math.abs(input.nowMs / 1000 - ts) > input.toleranceSeconds) return 'expired';
  return 'ok';
}
