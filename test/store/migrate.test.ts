import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, type Migration } from '../../src/store/migrate.js';
import { createPool } from '../../src/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';

function migration(version: number, sql: string): Migration {
  return {
    version,
    name: `${String(version).padStart(4, '0')}_test.sql`,
    sql,
    checksum: createHash('sha256').update(sql).digest('hex'),
  };
}

async function tables(db: TestDatabase | undefined): Promise<string[]> {
  const { rows } = await db!.pool.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  return rows.map((r) => r.tablename);
}

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

describe('migrations against PostgreSQL', () => {
  it('apply from empty, recorded in schema_migrations, and a second run does nothing', async () => {
    db = await createTestDatabase({ migrate: false });
    const first = await migrate(db.pool);
    expect(first.applied).toEqual(loadMigrations().map((m) => m.name));
    expect(await tables(db)).toEqual(
      expect.arrayContaining(['conversations', 'model_calls', 'schema_migrations', 'session_items']),
    );
    const second = await migrate(db.pool);
    expect(second).toEqual({ applied: [], current: first.current });
    const { rows } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
  });

  it('two processes starting at once apply each migration exactly once', async () => {
    db = await createTestDatabase({ migrate: false });
    // Separate pools stand in for separate processes: each takes its own advisory lock session.
    const pools = [createPool(db.url, 2), createPool(db.url, 2), createPool(db.url, 2)];
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.sort()).toEqual(
        loadMigrations()
          .map((m) => m.name)
          .sort(),
      );
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('a failing migration is rolled back whole and not recorded; earlier ones stay', async () => {
    db = await createTestDatabase({ migrate: false });
    const good = migration(1, 'CREATE TABLE a (id int);');
    const bad = migration(2, 'CREATE TABLE b (id int); SELECT * FROM no_such_table;');
    await expect(migrate(db.pool, [good, bad])).rejects.toThrow(
      /Migration 0002_test\.sql failed and was rolled back: relation "no_such_table" does not exist/,
    );
    expect(await tables(db)).toEqual(['a', 'schema_migrations']);
    const fixed = migration(2, 'CREATE TABLE b (id int);');
    expect((await migrate(db.pool, [good, fixed])).applied).toEqual(['0002_test.sql']);
  });

  it('refuses a shipped migration that was edited', async () => {
    db = await createTestDatabase({ migrate: false });
    await migrate(db.pool, [migration(1, 'CREATE TABLE a (id int);')]);
    await expect(migrate(db.pool, [migration(1, 'CREATE TABLE a (id bigint);')])).rejects.toThrow(
      /0001_test\.sql was changed after it was applied/,
    );
  });

  it('refuses a database migrated by a newer version', async () => {
    db = await createTestDatabase({ migrate: false });
    await migrate(db.pool, [migration(1, 'SELECT 1;'), migration(2, 'SELECT 2;')]);
    await expect(migrate(db.pool, [migration(1, 'SELECT 1;')])).rejects.toThrow(
      /migrated by a newer Threadline/,
    );
  });

  it('migration files are numbered without gaps', () => {
    const versions = loadMigrations().map((m) => m.version);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
  });
});
