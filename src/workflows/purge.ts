import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { PurgeInput } from '../activities/purge.js';

/**
 * Purges one conversation: closes its run, deletes the transcript from Postgres, the stored
 * responses and conversation objects from OpenAI, and the runs from Temporal, then records what it
 * deleted. Runs as `purge:{conversation workflow id}` (purgeWorkflowId); every step is idempotent, so a purge that
 * waited out an OpenAI outage, or is requested again, finishes the same way.
 */

export interface PurgeResult {
  status: string;
  itemsDeleted: number;
}

// Waiting for the run to close can take a turn; heartbeats tell a dead worker from a long turn.
const { closeForPurge } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

const { purgeStored, deleteConversationRuns, finishPurge } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

// OpenAI may be down for a while: retried without a limit, no slower than once a minute.
const { deleteOpenAIObjects } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 1.5, maximumInterval: '1 minute' },
});

export async function purgeWorkflow(input: PurgeInput): Promise<PurgeResult> {
  await closeForPurge(input);
  const { items } = await purgeStored({ ...input, purgeId: workflowInfo().runId });
  let pending = 1;
  while (pending > 0) ({ pending } = await deleteOpenAIObjects(input));
  await deleteConversationRuns(input);
  const { status } = await finishPurge(input);
  return { status, itemsDeleted: items };
}
