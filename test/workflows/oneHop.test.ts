import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  recordHistory,
  responseRequests,
  startHarness,
  testAgent,
  testTools,
  type Harness,
} from './harness.js';

/**
 * The turn in one hop (patch 'turn-in-one-hop-v2'): steps run as local activities inside one workflow
 * task; a model call slower than the agent's `localModelCallMs` is made again as the regular,
 * heartbeating activity, and the claimed model-call record keeps one answer.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    agents: [
      testAgent('hop', { tools: testTools([], 0) }),
      testAgent('slow', { localModelCallMs: 800 }),
      testAgent('regular', { localModelCallMs: 0 }),
    ],
  });
});
afterAll(async () => h?.close());

const { EventType } = temporal.api.enums.v1;

async function eventTypes(workflowId: string): Promise<string[]> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map((e) => EventType[e.eventType!]!.replace('EVENT_TYPE_', ''));
}

/** Activity tasks scheduled, by activity type. */
async function activityTasks(workflowId: string): Promise<string[]> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) =>
    e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
      ? [e.activityTaskScheduledEventAttributes!.activityType!.name!]
      : [],
  );
}

describe('a turn in one hop', () => {
  it('runs a tool turn in one workflow task, without activity tasks', async () => {
    const c = h.conversation('hop');
    await c.send('hello');
    const reply = await c.send('call get_time {"zone":"UTC"} now');
    expect(reply.text).toMatch(/get_time/);
    // The run's one activity task reads its saved state before the first turn (a regular activity).
    expect(await activityTasks(c.workflowId)).toEqual(['loadConversation']);
    // The second turn: its update accepted and completed inside one workflow task.
    const types = await eventTypes(c.workflowId);
    const accepted = types.lastIndexOf('WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
    const completed = types.lastIndexOf('WORKFLOW_EXECUTION_UPDATE_COMPLETED');
    expect(types.slice(accepted, completed).filter((t) => t === 'WORKFLOW_TASK_STARTED')).toEqual([]);
    await recordHistory('v5-perf2-tool-turn', c.handle);
  });

  it('runs a plain turn as one workflow task with three markers', async () => {
    const c = h.conversation('hop');
    await c.send('hello');
    await c.send('and again');
    await c.send('and once more');
    const types = await eventTypes(c.workflowId);
    const accepted = types.lastIndexOf('WORKFLOW_EXECUTION_UPDATE_ACCEPTED');
    // The idle timer cancelled, the agent's settings read again, begin (input + model), finish and
    // deliver, the next idle timer; the workflow task's three events come before the acceptance.
    expect(types.slice(accepted)).toEqual([
      'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
      'TIMER_CANCELED',
      'MARKER_RECORDED',
      'MARKER_RECORDED',
      'MARKER_RECORDED',
      'TIMER_STARTED',
      'WORKFLOW_EXECUTION_UPDATE_COMPLETED',
    ]);
    await recordHistory('v5-perf2-plain-turn', c.handle);
  });

  it('hands a model call slower than localModelCallMs to the regular activity, keeping one answer', async () => {
    const c = h.conversation('slow');
    const slow = h.emulator.faults.add({
      kind: 'latency',
      latencyMs: 2_500,
      match: { path: '^/v1/responses$' },
    });
    const before = responseRequests(h.emulator).length;
    const reply = await c.send('take your time');
    expect(reply.status).toBe('answered');
    expect(reply.text).toContain('You said: "take your time"');
    expect(h.emulator.faults.list().find((f) => f.id === slow.id)).toBeUndefined();
    // The local attempt was cut off at 0.8 s; the regular activity asked again.
    expect(responseRequests(h.emulator).length - before).toBe(2);
    const calls = await h.db.pool.query('SELECT response_id FROM model_calls WHERE conversation_id = $1', [
      c.workflowId,
    ]);
    expect(calls.rows).toEqual([{ response_id: reply.responseId }]);
    const items = await h.db.pool.query<{ role: string | null }>(
      `SELECT role FROM session_items WHERE session_id = $1 AND type = 'message' ORDER BY seq`,
      [c.workflowId],
    );
    expect(items.rows.map((r) => r.role)).toEqual(['user', 'assistant']);
    expect(await activityTasks(c.workflowId)).toEqual(['loadConversation', 'callModel']);
    await recordHistory('v5-perf2-slow-model-handed-over', c.handle);
  });

  it('makes every model call a regular activity when localModelCallMs is 0', async () => {
    const c = h.conversation('regular');
    const reply = await c.send('hi');
    expect(reply.status).toBe('answered');
    expect(await activityTasks(c.workflowId)).toEqual(['loadConversation', 'callModel']);
  });
});
