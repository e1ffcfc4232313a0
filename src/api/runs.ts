import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/** Whether a conversation has an open run: 'open', 'ended' (completed, closed, timed out), or 'none'. */
export async function runStatus(client: Client, workflowId: string): Promise<'open' | 'ended' | 'none'> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? 'open' : 'ended';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'none';
    throw err;
  }
}

/**
 * Deletes every run of a workflow id from Temporal (each holds the messages it was signalled), so a
 * purge leaves no text behind before the namespace's retention would. Runs must be closed.
 */
export async function deleteRuns(client: Client, workflowId: string): Promise<number> {
  let deleted = 0;
  // Workflow ids are percent-encoded (src/workflows/ids.ts): they never contain a double quote.
  for await (const run of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    await client.workflowService
      .deleteWorkflowExecution({
        namespace: client.options.namespace,
        workflowExecution: { workflowId, runId: run.runId },
      })
      .then(
        () => (deleted += 1),
        (err: { code?: number }) => {
          if (err.code !== 5) throw err; // NOT_FOUND: already gone
        },
      );
  }
  return deleted;
}
