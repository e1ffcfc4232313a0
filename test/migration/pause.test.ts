import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUnit } from '../../src/activities/migration.js';
import { createRegistry } from '../../src/agents/registry.js';
import { generateAssistantsFixture } from '../../src/emulator/server.js';
import { stopMigrationBatchSignal } from '../../src/workflows/migrationMessages.js';
import { recordHistory } from '../workflows/harness.js';
import { AGENTS, startMigrationEnv, type MigrationEnv } from './harness.js';

/**
 * A pause or cancel reaches a running batch as a stop signal. A batch runs its units as local
 * activities inside one workflow task, so the signal usually lands while that task is still open:
 * a unit migrated in that task must still count as done, once, and never come back as
 * "already migrated".
 */
const fixture = generateAssistantsFixture({ threads: 2, messagesPerThread: 2, seed: 23 });
let env: MigrationEnv;
beforeAll(async () => {
  env = await startMigrationEnv({ fixture });
});
afterAll(async () => {
  await env?.close();
});

const unitCounts = async (migrationId: string) => {
  const { rows } = await env.db.pool.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM migration_units WHERE migration_id = $1 GROUP BY status',
    [migrationId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
};

describe('a stop signal that reaches a batch while its unit runs', () => {
  it('counts the unit as done and does not migrate it again', { timeout: 60_000 }, async () => {
    const [thread] = fixture.threads;
    // The thread's read takes a while, well under the batch's one-second progress report, so the
    // batch's only workflow task is open when the stop arrives and carries no report.
    env.emulator.faults.add({ kind: 'latency', latencyMs: 250, times: -1, match: { path: thread!.id } });
    const handle = await env.start(
      { kind: 'assistants-api', threadIds: [thread!.id] },
      { window: 1, workflowId: 'v5-migration-stopped-batch-parent' },
    );
    const batch = env.client.workflow.getHandle(`${handle.workflowId}/batch/${thread!.id}`);
    await expect
      .poll(
        () =>
          batch.describe().then(
            () => true,
            () => false,
          ),
        { timeout: 20_000, interval: 10 },
      )
      .toBe(true);
    await batch.signal(stopMigrationBatchSignal);

    const end = await handle.result();
    expect(end).toMatchObject({ status: 'completed', done: 1, skipped: 0, failed: 0 });
    expect(await unitCounts(handle.workflowId)).toEqual({ done: 1 });
    await recordHistory('v5-migration-stopped-batch-parent', handle);
    await recordHistory('v5-migration-stopped-batch', batch);
  });
});

describe('a unit run again after its result was lost', () => {
  it('reports the outcome it recorded, not "already migrated"', { timeout: 60_000 }, async () => {
    const [, thread] = fixture.threads;
    const first = await env.run({ kind: 'assistants-api', threadIds: [thread!.id] });
    expect(first).toMatchObject({ done: 1, skipped: 0 });
    // What a worker that died before the unit's result was recorded does next: the same unit of
    // the same migration, again.
    const deps = {
      pool: env.db.pool,
      openai: new OpenAI({ apiKey: 'test-key', baseURL: env.emulator.baseUrl }),
      agents: createRegistry(AGENTS),
    };
    const { rows } = await env.db.pool.query<{ migration_id: string; external_id: string }>(
      'SELECT migration_id, external_id FROM migration_units WHERE unit_id = $1',
      [thread!.id],
    );
    const again = await migrateUnit(deps, {
      migrationId: rows[0]!.migration_id,
      source: { kind: 'assistants-api' },
      target: { tenant: 'default', channel: 'web', agent: 'assistant' },
      dryRun: false,
      unit: { id: thread!.id, externalId: rows[0]!.external_id },
    });
    expect(again).toMatchObject({ unitId: thread!.id, status: 'done', items: first.items });
    expect(await unitCounts(rows[0]!.migration_id)).toEqual({ done: 1 });
  });
});
