import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { MigrationProgress } from '../migration/types.js';

/** Message definitions of the migration workflow, shared by the workflow, the CLI and the API. */

/** Stops starting children; those running finish. */
export const pauseMigrationSignal = defineSignal('pause');
export const resumeMigrationSignal = defineSignal('resume');
/** Starts no more children, lets the running ones finish, then completes as 'cancelled'. */
export const cancelMigrationSignal = defineSignal('cancel');
export const migrationProgressQuery = defineQuery<MigrationProgress>('progress');

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Migration workflow ids are `migration:{name}`. */
export function migrationWorkflowId(name: string): string {
  if (!NAME.test(name)) {
    throw new TypeError(
      `migration name ${JSON.stringify(name)} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return `migration:${name}`;
}

/** Parent to batch child: start no more units, let the running ones finish, return the rest. */
export const stopMigrationBatchSignal = defineSignal('stop-batch');

/** Batch child to parent, about once a second while it runs: the counts since its last report. */
export const migrationBatchProgressSignal =
  defineSignal<[{ batchId: string; counts: BatchCounts }]>('batch-progress');
export interface BatchCounts {
  done: number;
  failed: number;
  skipped: number;
  items: number;
  failures: { unitId: string; reason: string }[];
}
