import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities.js';

/**
 * Temporal's floor: the least a workflow can do that still runs an activity. Bundled on its own
 * (not into src/workflows) so the product's bundle stays what it is.
 */
const { echo } = proxyActivities<typeof activities>({ startToCloseTimeout: '10 seconds' });

export async function floorWorkflow(text: string): Promise<string> {
  return echo(text);
}
