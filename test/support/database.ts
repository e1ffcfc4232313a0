import { randomBytes } from 'node:crypto';
import { migrate } from '../../src/store/migrate.js';
import { createPool, type Pool } from '../../src/store/pool.js';

/** A database of its own on a PostgreSQL server, dropped when done. No vitest here: bench uses it too. */
export interface ScratchDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

export async function createScratchDatabase(
  adminUrl: string,
  options: { prefix: string; poolSize: number; migrate?: boolean },
): Promise<ScratchDatabase> {
  const name = `${options.prefix}_${randomBytes(6).toString('hex')}`;
  const admin = createPool(adminUrl, 1);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), options.poolSize);
  if (options.migrate ?? true) await migrate(pool);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
