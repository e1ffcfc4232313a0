import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Pool } from './pool.js';

/**
 * Versioned SQL migrations from src/store/migrations/NNNN_name.sql, applied in order at start-up,
 * each in its own transaction and recorded in schema_migrations. A session-level advisory lock
 * makes two processes starting at once take turns: the second finds nothing left to do.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

// Arbitrary constant, fixed forever: every Threadline process must use the same lock key.
const MIGRATION_LOCK_KEY = 7_305_021_042;

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((file) => {
      const match = /^(\d{4})_([\w-]+)\.sql$/.exec(file);
      if (!match) throw new Error(`Migration file ${file} must be named NNNN_name.sql`);
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      return {
        version: Number(match[1]),
        name: file,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`Migrations must be numbered 0001, 0002, ... without gaps: ${m.name}`);
  });
  return migrations;
}

export interface MigrateResult {
  applied: string[];
  current: number;
}

export async function migrate(pool: Pool, migrations = loadMigrations()): Promise<MigrateResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
      );
      const done = new Map(rows.map((r) => [r.version, r]));
      for (const row of rows) {
        const known = migrations.find((m) => m.version === row.version);
        if (!known) {
          throw new Error(
            `The database is at migration ${row.name}, which this code does not have: it was migrated by a newer ` +
              `Threadline. Upgrade this process, or restore a backup from before that version.`,
          );
        }
        if (known.checksum !== row.checksum) {
          throw new Error(
            `Migration ${row.name} was changed after it was applied. Migrations are immutable once shipped: ` +
              `restore the file and add a new migration for the change.`,
          );
        }
      }
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        try {
          await client.query('BEGIN');
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`Migration ${m.name} failed and was rolled back: ${(err as Error).message}`, {
            cause: err,
          });
        }
        applied.push(m.name);
      }
      return { applied, current: migrations.at(-1)?.version ?? 0 };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    client.release();
  }
}
