import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The emulator's stand-in for OpenAI's `encrypted_content`: an opaque string the client cannot
 * read or forge. A signed payload, so a reasoning or compaction item passed back as input can be
 * verified the way the live API verifies its own ciphertext.
 */
export type SealedPayload =
  | { kind: 'reasoning'; id: string; tokens: number }
  | { kind: 'compaction'; tokens: number; summarizedTokens: number };

// Not a secret worth hiding: it only lets the emulator tell its own payloads from edited ones.
const KEY = 'threadline-emulator-encrypted-content-v1';
const PREFIX = 'tl1.';

const mac = (body: string): string => createHmac('sha256', KEY).update(body).digest('base64url');

export function seal(payload: SealedPayload): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${PREFIX}${body}.${mac(body)}`;
}

/** The payload, or undefined when the string was not sealed by the emulator (or was edited). */
export function unseal<K extends SealedPayload['kind']>(
  sealed: string,
  kind: K,
): Extract<SealedPayload, { kind: K }> | undefined {
  if (!sealed.startsWith(PREFIX)) return undefined;
  const [body, signature, ...rest] = sealed.slice(PREFIX.length).split('.');
  if (body === undefined || signature === undefined || rest.length > 0) return undefined;
  const expected = Buffer.from(mac(body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SealedPayload;
    return payload.kind === kind ? (payload as Extract<SealedPayload, { kind: K }>) : undefined;
  } catch {
    return undefined;
  }
}
