import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool } from '../store/pool.js';

/**
 * API keys: `tl_` + 32 random bytes (base64url). Only the SHA-256 is stored; the key is shown once,
 * when it is created. A fast hash is enough because the key has 256 bits of entropy: there is no
 * dictionary to try, unlike a password.
 */

export const KEY_PREFIX = 'tl_';

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Compares two secrets in time independent of where they differ (hashes first: equal lengths). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(a, 'utf8').digest(),
    createHash('sha256').update(b, 'utf8').digest(),
  );
}

export interface ApiKeyRecord {
  id: string;
  tenant: string;
  name: string;
  /** The first characters of the key, to tell keys apart without the secret. */
  prefix: string;
  createdAt: string;
  revokedAt: string | null;
}

interface Row {
  id: string;
  tenant: string;
  name: string;
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

const toRecord = (r: Row): ApiKeyRecord => ({
  id: r.id,
  tenant: r.tenant,
  name: r.name,
  prefix: r.prefix,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

export async function createApiKey(
  pool: Pool,
  input: { tenant: string; name: string; key?: string },
): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = input.key ?? generateApiKey();
  const id = `key_${randomBytes(8).toString('hex')}`;
  const { rows } = await pool.query<Row>(
    `INSERT INTO api_keys (id, tenant, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
    [id, input.tenant, input.name, key.slice(0, 10), hashApiKey(key)],
  );
  return { key, record: toRecord(rows[0]!) };
}

/** The tenant of a live key, or null. The lookup is by hash: the database never sees the key. */
export async function findApiKey(pool: Pool, key: string): Promise<{ id: string; tenant: string } | null> {
  const { rows } = await pool.query<{ id: string; tenant: string }>(
    'SELECT id, tenant FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
    [hashApiKey(key)],
  );
  return rows[0] ?? null;
}

export async function listApiKeys(pool: Pool, tenant: string | undefined): Promise<ApiKeyRecord[]> {
  const { rows } = await pool.query<Row>(
    `SELECT * FROM api_keys WHERE ($1::text IS NULL OR tenant = $1) ORDER BY created_at, id`,
    [tenant ?? null],
  );
  return rows.map(toRecord);
}

export async function revokeApiKey(pool: Pool, id: string): Promise<ApiKeyRecord | null> {
  const { rows } = await pool.query<Row>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *`,
    [id],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}
