import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type {
  MigrationOptions,
  MigrationProgress,
  SourceSpec,
  TargetSpec,
  Unit,
  UnitResult,
} from '../migration/types.js';
import { unitSource, type UnitSource } from '../migration/unitSource.js';
import { addToBatch, MigrationState, type BatchResult, type CarriedMigration } from './migrationState.js';
import {
  cancelMigrationSignal,
  migrationProgressQuery,
  pauseMigrationSignal,
  resumeMigrationSignal,
  migrationBatchProgressSignal,
  stopMigrationBatchSignal,
} from './migrationMessages.js';
import { workflowNow } from './time.js';

export interface MigrationInput {
  /** The whole source on the first run; a continued run needs only what a unit needs (it is staged). */
  source: SourceSpec | UnitSource;
  target: TargetSpec;
  options: MigrationOptions;
  /** Present after continue-as-new. */
  carried?: CarriedMigration;
}

// Staging reads the whole source listing (a mapping file, an export file): long, heartbeating.
const { prepareMigrationSource } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});
const { listMigrationUnits, recordMigrationUnitFailure } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
// One unit: read the source, write the transcript. 429s come back with Retry-After as the next
// retry delay (toActivityFailure); 4xx are not retried. The heartbeat timeout gets a unit that was
// running on a killed worker retried elsewhere in seconds.
// Bounded by time, not attempts: under a tight rate limit a unit may be refused many times, and
// that should slow the migration down, not fail threads.
const unitOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '30 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
  },
};
const { migrateUnit, seedOpenAIConversation } = proxyActivities<Activities>(unitOptions);
const unitActivities = { migrateUnit, seedOpenAIConversation, recordMigrationUnitFailure };
// In a batch: the same activities, run as local activities. A local activity is recorded as one
// marker instead of scheduled/started/completed plus a workflow task each (~1 KB a unit), with the
// same retries (Retry-After included); a unit on a killed worker runs again when the batch's
// workflow task times out (10 s) elsewhere. Heartbeats are no-ops for local activities.
const { startToCloseTimeout, scheduleToCloseTimeout, retry } = unitOptions;
const batchActivities = proxyLocalActivities<Activities>({
  startToCloseTimeout,
  scheduleToCloseTimeout,
  retry,
});
type UnitActivities = Pick<
  Activities,
  'migrateUnit' | 'seedOpenAIConversation' | 'recordMigrationUnitFailure'
>;

/** Children and continued runs carry the unit's source, not the whole listing. */
const UNIT_SOURCE_PATCH = 'migration-unit-source';
/** One child migrates a batch of units (one activity each): a child per unit cost ~2.5 KB a thread. */
const BATCH_PATCH = 'migration-unit-batches';
/**
 * A batch sends its last counts as a report before it returns. Its units run as local activities,
 * recorded only when its workflow task completes; a task that completes the workflow is refused
 * when a signal (a pause's stop) arrived meanwhile, and its replay then ran no unit and handed all
 * back as unstarted, although they were migrated. A report is not final, so that task is kept.
 */
const BATCH_FINAL_REPORT_PATCH = 'migration-batch-final-report';
/** Units per batch child. Part of the workflow's shape: changing it needs a new patch. */
export const UNITS_PER_BATCH = 100;
/** Units one batch child runs at once; a wider window runs more children. */
export const BATCH_CONCURRENCY = 25;
/** A running batch reports its counts to the parent at most this often (a few events a batch). */
const PROGRESS_EVERY_MS = 1_000;

/** How the window K splits into batch children: `children` at once, each running `concurrency` units. */
export function batchPlan(window: number): { children: number; concurrency: number } {
  const children = Math.ceil(window / BATCH_CONCURRENCY);
  return { children, concurrency: Math.ceil(window / children) };
}

/**
 * The parent: stages the source, then pages through it keeping a sliding window of K children
 * (one per thread, chain or conversation key), and continues as new every N children with only a
 * cursor and counters.
 */
export async function migrationWorkflow(input: MigrationInput): Promise<MigrationProgress> {
  const migrationId = workflowInfo().workflowId;
  const { options } = input;
  const state = new MigrationState(input.carried, workflowNow());
  let preparing = !input.carried;

  const status = () =>
    preparing ? 'preparing' : state.cancelRequested ? 'cancelling' : state.paused ? 'paused' : 'running';
  setHandler(migrationProgressQuery, () =>
    state.progress(migrationId, status(), options.dryRun, workflowNow()),
  );
  // Decided once per run: a run recorded before batches replays with a child per unit.
  const batched = patched(BATCH_PATCH);
  const batches = new Set<string>();
  // A running batch stops between units, so that pause and cancel take effect as promptly as with
  // a child per unit; its unstarted units come back to the buffer.
  const stopBatches = () => {
    for (const id of batches)
      void getExternalWorkflowHandle(id)
        .signal(stopMigrationBatchSignal)
        .catch(() => {});
  };
  setHandler(pauseMigrationSignal, () => {
    state.paused = true;
    if (batched) stopBatches();
  });
  if (batched)
    setHandler(migrationBatchProgressSignal, ({ batchId, counts }) => state.reportBatch(batchId, counts));
  setHandler(resumeMigrationSignal, () => {
    state.paused = false;
  });
  setHandler(cancelMigrationSignal, () => {
    state.cancelRequested = true;
    if (batched) stopBatches();
  });

  if (!input.carried) {
    const staged = await prepareMigrationSource({
      migrationId,
      source: input.source as SourceSpec,
      target: input.target,
    });
    state.total = staged.total;
    state.sourceIssues = staged.issues;
    preparing = false;
  }

  let startedThisRun = 0;
  const children: Promise<void>[] = [];
  const plan = batchPlan(options.window);
  while (batched) {
    await condition(() => state.cancelRequested || (!state.paused && batches.size < plan.children));
    if (state.cancelRequested || startedThisRun >= options.continueAsNewEvery) break;
    const size = Math.min(UNITS_PER_BATCH, options.continueAsNewEvery - startedThisRun);
    while (state.buffer.length < size && !state.exhausted) {
      const page = await listMigrationUnits({ migrationId, after: state.cursor, limit: options.pageSize });
      state.takePage(page.units, page.next);
    }
    // A pause or cancel may have come while a page was read.
    if (state.cancelRequested || state.paused) continue;
    const units = state.startBatch(size);
    if (units.length === 0) break;
    startedThisRun += units.length;
    // Derived from its first unit, which a batch always starts: a replayed or resumed parent never
    // starts a second child for the same units.
    const id = `${migrationId}/batch/${units[0]!.id}`;
    batches.add(id);
    children.push(
      runBatch(id, migrationId, input, units, plan.concurrency).then((r) => {
        batches.delete(id);
        state.recordBatch(units, r, id);
      }),
    );
  }
  for (;;) {
    if (batched) break;
    await condition(() => state.cancelRequested || state.canStart(options.window));
    if (state.cancelRequested || startedThisRun >= options.continueAsNewEvery) break;
    if (state.buffer.length === 0 && !state.exhausted) {
      const page = await listMigrationUnits({ migrationId, after: state.cursor, limit: options.pageSize });
      state.takePage(page.units, page.next);
    }
    const unit = state.start();
    if (!unit) break;
    startedThisRun += 1;
    children.push(runChild(migrationId, input, unit).then((r) => state.record(r)));
  }
  // Children of this run finish here: a continued run could not await them.
  await Promise.all(children);

  if (!state.cancelRequested && !state.drained) {
    await condition(allHandlersFinished);
    // Staged: the next run and its children need no listing (the patch keeps old runs replaying).
    const source = patched(UNIT_SOURCE_PATCH) ? unitSource(input.source) : input.source;
    await continueAsNew<typeof migrationWorkflow>({ ...input, source, carried: state.carry() });
  }
  await condition(allHandlersFinished);
  return state.progress(
    migrationId,
    state.cancelRequested ? 'cancelled' : 'completed',
    options.dryRun,
    workflowNow(),
  );
}

async function runBatch(
  workflowId: string,
  migrationId: string,
  input: MigrationInput,
  units: Unit[],
  concurrency: number,
): Promise<BatchResult> {
  try {
    return await executeChild(migrateBatchWorkflow, {
      workflowId,
      args: [
        {
          migrationId,
          source: unitSource(input.source),
          target: input.target,
          dryRun: input.options.dryRun,
          units,
          concurrency,
        },
      ],
    });
  } catch (err) {
    // The child itself turns unit failures into counts; this is a child that could not run at all.
    const reason = describe(err);
    log.warn('migration batch failed', { batch: workflowId, error: reason });
    const result: BatchResult = { done: 0, failed: 0, skipped: 0, items: 0, failures: [], unstarted: [] };
    for (const unit of units)
      addToBatch(result, { unitId: unit.id, status: 'failed', items: 0, conversationId: null, reason });
    return result;
  }
}

async function runChild(migrationId: string, input: MigrationInput, unit: Unit): Promise<UnitResult> {
  try {
    return await executeChild(migrateUnitWorkflow, {
      // Derived from the unit: a replayed or continued parent never starts a second child for it.
      workflowId: `${migrationId}/${unit.id}`,
      args: [
        {
          migrationId,
          source: patched(UNIT_SOURCE_PATCH) ? unitSource(input.source) : input.source,
          target: input.target,
          dryRun: input.options.dryRun,
          unit,
        },
      ],
    });
  } catch (err) {
    // The child itself turns failures into results; this is a child that could not run at all.
    log.warn('migration child failed', { unit: unit.id, error: describe(err) });
    return { unitId: unit.id, status: 'failed', items: 0, conversationId: null, reason: describe(err) };
  }
}

export interface MigrateUnitInput {
  migrationId: string;
  /** Histories recorded before the unit-source patch carry the whole SourceSpec (a superset). */
  source: UnitSource;
  target: TargetSpec;
  dryRun: boolean;
  unit: Unit;
}

export interface MigrateBatchInput {
  migrationId: string;
  source: UnitSource;
  target: TargetSpec;
  dryRun: boolean;
  units: Unit[];
  /** Units running at once. */
  concurrency: number;
}

/**
 * Up to UNITS_PER_BATCH units, `concurrency` at once, each its own activity with its own retries
 * and failure record, exactly as a child per unit did; reports counts. A stop signal (the parent
 * paused or cancelled) starts no more units and hands the rest back.
 */
export async function migrateBatchWorkflow(input: MigrateBatchInput): Promise<BatchResult> {
  const { units, concurrency, ...common } = input;
  let stopped = false;
  setHandler(stopMigrationBatchSignal, () => {
    stopped = true;
  });
  const empty = (): BatchResult => ({
    done: 0,
    failed: 0,
    skipped: 0,
    items: 0,
    failures: [],
    unstarted: [],
  });
  // Counts since the last report to the parent; what is left at the end is the batch's result.
  let result = empty();
  const parent = workflowInfo().parent?.workflowId;
  let reportedAt = workflowNow();
  const reports: Promise<void>[] = [];
  const report = (force = false) => {
    if (!parent || (!force && workflowNow() - reportedAt < PROGRESS_EVERY_MS)) return;
    if (result.done + result.failed + result.skipped === 0) return;
    reportedAt = workflowNow();
    const { unstarted: _, ...counts } = result;
    result = empty();
    reports.push(
      getExternalWorkflowHandle(parent)
        .signal(migrationBatchProgressSignal, { batchId: workflowInfo().workflowId, counts })
        .catch(() => {}),
    );
  };
  let next = 0;
  const lane = async () => {
    while (!stopped && next < units.length) {
      const unit = units[next++]!;
      const one = await migrateOne({ ...common, unit }, batchActivities);
      addToBatch(result, one); // after the await: a report may have replaced `result` meanwhile
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, units.length)) }, lane));
  if (patched(BATCH_FINAL_REPORT_PATCH)) report(true);
  result.unstarted = units.slice(next);
  // Reports reach the parent before the result does, so it never counts a unit twice or late.
  await Promise.all(reports);
  await condition(allHandlersFinished);
  return result;
}

/** One thread, chain or conversation key: migrate it, seed it if asked, and report; never throws. */
export async function migrateUnitWorkflow(input: MigrateUnitInput): Promise<UnitResult> {
  return migrateOne(input, unitActivities);
}

async function migrateOne(input: MigrateUnitInput, activities: UnitActivities): Promise<UnitResult> {
  const { migrateUnit, seedOpenAIConversation, recordMigrationUnitFailure } = activities;
  try {
    const result = await migrateUnit(input);
    if (input.target.seedLastItems && !input.dryRun && result.conversationId && result.status !== 'failed') {
      await seedOpenAIConversation({
        conversationId: result.conversationId,
        lastItems: input.target.seedLastItems,
      });
    }
    return result;
  } catch (err) {
    const reason = describe(err);
    await recordMigrationUnitFailure({ migrationId: input.migrationId, unitId: input.unit.id, reason });
    return { unitId: input.unit.id, status: 'failed', items: 0, conversationId: null, reason };
  }
}

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
