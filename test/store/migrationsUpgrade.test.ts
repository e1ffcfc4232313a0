import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../../src/store/migrate.js';
import { PostgresSession } from '../../src/store/session/postgresSession.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';

/** Every earlier schema version upgrades to the latest, keeping the transcript it holds. */

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

const all = loadMigrations();

describe('migrations up to the latest', () => {
  it.each(Array.from({ length: all.length }, (_, i) => i))('from version %i', async (from) => {
    db = await createTestDatabase({ migrate: false });
    if (from > 0) await migrate(db.pool, all.slice(0, from));
    if (from > 0) {
      // A transcript written by the older version.
      await db.pool.query(
        `INSERT INTO session_items (session_id, seq, item, type, role, turn, item_key)
         VALUES ('conversation:t:web:1', 1, '{"type":"message","role":"user","content":"old"}', 'message', 'user', 1, 't1/in/m1')`,
      );
    }
    const result = await migrate(db.pool);
    expect(result.applied).toEqual(all.slice(from).map((m) => m.name));
    expect(result.current).toBe(all.at(-1)!.version);
    const { rows } = await db.pool.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('sessions', 'session_operations')",
    );
    expect(rows.map((r) => r.tablename).sort()).toEqual(['session_operations', 'sessions']);
    const session = await PostgresSession.open(db.pool, {
      sessionId: 'conversation:t:web:1',
      tenant: 't',
      userId: 'u',
    });
    expect(await session.getItems()).toEqual(
      from > 0 ? [{ type: 'message', role: 'user', content: 'old' }] : [],
    );
  });
});
