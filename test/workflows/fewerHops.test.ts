import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHistory, startHarness, testAgent, testTools, type Harness } from './harness.js';

/**
 * A turn in fewer hops (patch 'turn-in-fewer-hops'): the input is recorded by the first model
 * step and the turn finished by its delivery step, so a tool turn is 4 activities instead of 6;
 * since 'finish-in-answering-step' the model step whose answer ends the turn finishes and sends it
 * (a plain turn is 1 activity, a tool turn 3).
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ agents: [testAgent('hop', { tools: testTools([], 0) })] });
});
afterAll(async () => h?.close());

const { EventType } = temporal.api.enums.v1;

/** The activities each turn scheduled, by type, one list per accepted update. */
async function activitiesPerTurn(workflowId: string): Promise<string[][]> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const turns: string[][] = [];
  for (const e of history.events ?? []) {
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) turns.push([]);
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      turns.at(-1)?.push(e.activityTaskScheduledEventAttributes!.activityType!.name!);
  }
  return turns;
}

describe('a turn in fewer hops', () => {
  it('runs a plain turn as one activity and a tool turn as three', async () => {
    const c = h.conversation('hop');
    expect((await c.send('hello')).status).toBe('answered');
    expect((await c.send('and again')).text).toContain('You said: "and again"');
    const reply = await c.send('call get_time {"zone":"UTC"} now');
    expect(reply.text).toMatch(/get_time/);
    expect(await activitiesPerTurn(c.workflowId)).toEqual([
      // The run reads its saved state and its agent's settings before its first turn; the step
      // whose answer ends a turn finishes it and sends the reply.
      ['openConversation', 'beginTurn'],
      ['beginTurn'],
      ['beginTurn', 'runTool', 'modelStep'],
    ]);
    const items = await h.db.pool.query<{ role: string | null; type: string }>(
      `SELECT type, role FROM session_items WHERE session_id = $1 ORDER BY seq`,
      [c.workflowId],
    );
    expect(items.rows.filter((r) => r.type === 'message').map((r) => r.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    await recordHistory('v5-perf2-plain-and-tool-turns', c.handle);
    await recordHistory('v6-finish-in-answering-step', c.handle);
    await recordHistory('v6-quiet-turns-plain-and-tool', c.handle);
  });
});
