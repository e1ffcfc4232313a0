import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAssistantsFixture } from '../../src/emulator/server.js';
import { cancelMigrationSignal } from '../../src/workflows/migrationMessages.js';
import { startMigrationEnv, type MigrationEnv } from './harness.js';

/**
 * A migration of 10,000 Assistants threads listed inline (the CLI's `--thread-ids` or the API's
 * `threadIds`): the list is read once, by staging; every continued parent run and every child
 * carries only its cursor or its unit. Measured on the parent's first two runs and their children,
 * and projected to the whole migration: each continued run and each child has the same shape
 * whatever the total, so the sum grows linearly with small factors (a full run is a benchmark).
 */
const THREADS = 10_000;
const PER_RUN = 50;
const LIMIT_BYTES = 10 * 1024 * 1024;
const fixture = generateAssistantsFixture({ threads: THREADS, messagesPerThread: 2, seed: 11 });

let env: MigrationEnv;
beforeAll(async () => {
  env = await startMigrationEnv({ fixture });
});
afterAll(async () => env?.close());

const sizeOf = async (workflowId: string, runId?: string) =>
  temporal.api.history.v1.History.encode(
    await env.client.workflow.getHandle(workflowId, runId).fetchHistory(),
  ).finish().length;

describe(`a ${THREADS.toLocaleString('en')}-thread migration`, () => {
  it(
    'carries the listing in its first run only: every later run and child is flat',
    { timeout: 120_000 },
    async () => {
      const threadIds = fixture.threads.map((t) => t.id);
      const handle = await env.start(
        { kind: 'assistants-api', threadIds },
        { window: 25, continueAsNewEvery: PER_RUN, pageSize: 50 },
      );
      const runs = async () => {
        const ids: string[] = [];
        for await (const wf of env.client.workflow.list({ query: `WorkflowId = "${handle.workflowId}"` }))
          ids.push(wf.runId);
        return ids.reverse(); // oldest first
      };
      // Two complete runs (the first carries the client's input, the second is what every later run costs).
      await expect
        .poll(async () => (await runs()).length, { timeout: 90_000, interval: 500 })
        .toBeGreaterThanOrEqual(3);
      await handle.signal(cancelMigrationSignal);
      const progress = await handle.result();
      expect(progress.status).toBe('cancelled');
      expect(progress.failed).toBe(0);

      const [first, second] = await runs();
      const firstRun = await sizeOf(handle.workflowId, first);
      const laterRun = await sizeOf(handle.workflowId, second);
      const { rows } = await env.db.pool.query<{ unit_id: string }>(
        `SELECT unit_id FROM migration_units WHERE migration_id = $1 AND status <> 'pending'`,
        [handle.workflowId],
      );
      expect(rows.length).toBeGreaterThanOrEqual(2 * PER_RUN);
      // The listing is in the first run only (the client's input and the staging activity read it).
      const lastId = threadIds.at(-1)!;
      const holds = async (workflowId: string, runId?: string) =>
        Buffer.from(
          temporal.api.history.v1.History.encode(
            await env.client.workflow.getHandle(workflowId, runId).fetchHistory(),
          ).finish(),
        ).includes(lastId);
      expect(await holds(handle.workflowId, first)).toBe(true);
      expect(await holds(handle.workflowId, second)).toBe(false);
      let childBytes = 0;
      let largestChild = 0;
      for (const r of rows) {
        const id = `${handle.workflowId}/${r.unit_id}`;
        const size = await sizeOf(id);
        childBytes += size;
        largestChild = Math.max(largestChild, size);
        if (r.unit_id !== lastId) expect(await holds(id)).toBe(false);
      }
      const parent = firstRun + laterRun * (THREADS / PER_RUN - 1);
      const children = largestChild * THREADS;
      console.log(
        'migration history',
        JSON.stringify({
          firstRun,
          laterRun,
          measuredChildren: rows.length,
          childBytes,
          largestChild,
          parent,
          children,
        }),
      );
      // Flat per unit: a continued run costs what its children's events cost, a child its own unit.
      expect(laterRun).toBeLessThan(PER_RUN * 2_000);
      expect(largestChild).toBeLessThan(3_000);
      // Summed over all runs and children: under 5 KB a thread (about 1.6 KB of parent events and a
      // 2.5 KB child, nearly all of it Temporal's own event overhead). Not under 10 MB: that would
      // take children that migrate several units each (docs/invariants.md, Migrations).
      expect(parent).toBeLessThan(2 * LIMIT_BYTES);
      expect(parent + children).toBeLessThan(THREADS * 5_000);
    },
  );
});
