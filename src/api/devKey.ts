import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from '../store/pool.js';
import { createApiKey, findApiKey } from './apiKeys.js';

export const DEV_TENANT = 'default';

/**
 * `npm run dev` needs a key a new user can paste: one for tenant `default`, stored hashed like any
 * other, its plain text kept in `{dataDir}/dev-api-key` (mode 600) so the printed curl line stays
 * the same across restarts. A key that was revoked, or a fresh database, gets a new one.
 */
export async function ensureDevApiKey(pool: Pool, dataDir: string): Promise<{ key: string; file: string }> {
  const file = join(dataDir, 'dev-api-key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    const found = key ? await findApiKey(pool, key) : null;
    if (found?.tenant === DEV_TENANT) return { key, file };
  }
  const { key } = await createApiKey(pool, { tenant: DEV_TENANT, name: 'dev (npm run dev)' });
  writeFileSync(file, key + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, file };
}
