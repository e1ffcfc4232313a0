import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAssistantsFixture } from '../../src/emulator/server.js';
import { UNITS_PER_BATCH } from '../../src/workflows/migration.js';
import { cancelMigrationSignal } from '../../src/workflows/migrationMessages.js';
import { startMigrationEnv, type MigrationEnv } from './harness.js';

/**
 * A migration of 10,000 Assistants threads listed inline (the CLI's `--thread-ids` or the API's
 * `threadIds`): the list is read once, by staging; every continued parent run and every child
 * carries only its cursor or its units. Each child migrates a batch of UNITS_PER_BATCH units (an
 * activity each). Measured on the parent's first two runs and their children, and projected to the
 * whole migration: each continued run and each full batch has the same shape whatever the total, so
 * the sum grows linearly with small factors (a full run is a benchmark).
 */
const THREADS = 10_000;
const PER_RUN = 2 * UNITS_PER_BATCH;
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
    'carries the listing in its first run only, and its whole history stays under 10 MB',
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
      // The children, as the parent's runs started them.
      const childIds: string[] = [];
      for (const runId of [first, second]) {
        const history = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
        for (const e of history.events ?? [])
          if (e.startChildWorkflowExecutionInitiatedEventAttributes)
            childIds.push(e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId!);
      }
      expect(childIds).toHaveLength((PER_RUN / UNITS_PER_BATCH) * 2);
      let childBytes = 0;
      let largestChild = 0;
      for (const id of childIds) {
        const size = await sizeOf(id);
        childBytes += size;
        largestChild = Math.max(largestChild, size);
        if (!id.endsWith(`/${lastId}`)) expect(await holds(id)).toBe(false);
      }
      const parent = firstRun + laterRun * (THREADS / PER_RUN - 1);
      const children = largestChild * (THREADS / UNITS_PER_BATCH);
      console.log(
        'migration history',
        JSON.stringify({
          firstRun,
          laterRun,
          measuredChildren: childIds.length,
          childBytes,
          largestChild,
          parent,
          children,
          total: parent + children,
        }),
      );
      // Flat per run and per batch: a continued run costs its batches' events, a batch its units'.
      expect(laterRun).toBeLessThan(PER_RUN * 500);
      // A unit in a batch is one local-activity marker and its share of workflow tasks (~600 B).
      expect(largestChild).toBeLessThan(UNITS_PER_BATCH * 800);
      // The whole migration, all runs and all children: under 10 MB (~900 B a thread measured).
      expect(parent + children).toBeLessThan(LIMIT_BYTES);
    },
  );
});
