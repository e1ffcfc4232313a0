import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHistory, startHarness, testAgent, testTools, type Harness } from './harness.js';

/**
 * The agent's settings reach the conversation workflow in regular activities' results, never in a
 * local activity's marker. A local activity's marker can be recorded in a workflow task whose
 * workflow never saw the result (the worker stopped); a replay then resolves it before an update
 * that the next task accepted first, and the conversation stops on a nondeterminism error (the
 * schedules drill found it: test/fixtures/known-issues/la-marker-before-update-at-worker-restart.json).
 * Each place settings are read is covered: a run's start, each turn, a handoff mid-turn, the turn
 * after it and the start of a continued run.
 */
let h: Harness;
beforeAll(async () => {
  const [getTime] = testTools([], 0);
  h = await startHarness({
    agents: [
      testAgent('front', { tools: [getTime!], handoffs: ['back'], continueAsNewAfterTurns: 3 }),
      testAgent('back', { instructions: 'You are the back desk.', continueAsNewAfterTurns: 3 }),
    ],
  });
});
afterAll(async () => h?.close());

const { EventType } = temporal.api.enums.v1;

/** Every run of a workflow, oldest first, following continue-as-new back from the current run. */
async function runHistories(
  workflowId: string,
): Promise<{ runId: string; history: temporal.api.history.v1.IHistory }[]> {
  const runs: { runId: string; history: temporal.api.history.v1.IHistory }[] = [];
  let runId = (await h.client.workflow.getHandle(workflowId).describe()).runId;
  for (;;) {
    const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.unshift({ runId, history });
    const from = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!from) return runs;
    runId = from;
  }
}

describe('agent settings in the conversation workflow', () => {
  it('are read by regular activities: no local activity marker in any run, the first task schedules an activity', async () => {
    const c = h.conversation('front');
    expect((await c.send('hello')).status).toBe('answered');
    expect((await c.send('call get_time {"zone":"UTC"} now')).status).toBe('answered');
    expect((await c.send('call transfer_to_back')).status).toBe('answered');
    expect((await c.state()).agent).toBe('back');
    // Turn 3 completed the run's quota: turn 4 is answered by the continued run, as the back desk.
    const after = await c.send('still there?');
    expect(after).toMatchObject({ status: 'answered', turn: 4 });

    const runs = await runHistories(c.workflowId);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (const { history } of runs) {
      const events = history.events ?? [];
      const markers = events
        .filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED)
        .map((e) => e.markerRecordedEventAttributes!.markerName);
      expect(markers).not.toContain('core_local_activity');
      // What the first workflow task completed with: an activity (the run's opening step), so no
      // update can be accepted ahead of that step in one replay and after it in another.
      const firstCompleted = events.findIndex(
        (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
      );
      const nextTask = events.findIndex(
        (e, i) => i > firstCompleted && e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
      );
      const firstCommands = events.slice(firstCompleted + 1, nextTask);
      expect(
        firstCommands
          .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
          .map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name),
      ).toEqual(['openConversation']);
    }
    await recordHistory('v6-settings-by-activity-first-run', c.handle, runs[0]!.runId);
    await recordHistory('v6-settings-by-activity-continued-run', c.handle);
  });
});
