import { randomBytes } from 'node:crypto';

/** OpenAI-style opaque ids: a type prefix and random hex, e.g. `resp_68af…`. */
export function newId(prefix: string, bytes = 24): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}
