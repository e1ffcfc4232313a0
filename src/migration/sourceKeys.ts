import type OpenAI from 'openai';
import type { Pool } from '../store/pool.js';
import { clientFor } from './sources/assistantsApi.js';

/**
 * The key for a migration source at another endpoint travels API -> Postgres -> activity, never
 * through the workflow input: Temporal history is readable in the UI and kept past the migration.
 */
export async function saveSourceKey(
  pool: Pool,
  migrationId: string,
  apiKey: string | undefined,
): Promise<void> {
  if (apiKey === undefined)
    await pool.query('DELETE FROM migration_source_keys WHERE migration_id = $1', [migrationId]);
  else
    await pool.query(
      `INSERT INTO migration_source_keys (migration_id, api_key) VALUES ($1, $2)
       ON CONFLICT (migration_id) DO UPDATE SET api_key = EXCLUDED.api_key, created_at = now()`,
      [migrationId, apiKey],
    );
}

/** The client a migration reads its source with: see clientFor for which key it carries. */
export async function sourceClient(
  deps: { pool: Pool; openai: OpenAI },
  migrationId: string,
  baseUrl: string | undefined,
): Promise<OpenAI> {
  if (!baseUrl) return deps.openai;
  const { rows } = await deps.pool.query<{ api_key: string }>(
    'SELECT api_key FROM migration_source_keys WHERE migration_id = $1',
    [migrationId],
  );
  return clientFor(deps.openai, baseUrl, rows[0]?.api_key);
}
