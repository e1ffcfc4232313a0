import { temporal } from '@temporalio/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recordHistory, startHarness, testAgent, type Harness } from './harness.js';

/**
 * Since the patch 'quiet-turns': a turn writes the status search attribute only when it changes,
 * and the wait between turns keeps one idle timer per timeout period instead of starting and
 * cancelling one every turn (src/workflows/idleTimer.ts, statusChanges.ts). The idle timeout
 * still runs from the last turn.
 */
let h: Harness;
const IDLE_MS = 1_500;
beforeAll(async () => {
  h = await startHarness({ agents: [testAgent('quiet', { idleTimeoutMs: IDLE_MS })] });
});
afterAll(async () => h?.close());
afterEach(() => h.emulator.faults.clear());

const { EventType } = temporal.api.enums.v1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function events(workflowId: string) {
  return (await h.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}
const count = (all: Awaited<ReturnType<typeof events>>, type: number) =>
  all.filter((e) => e.eventType === type).length;
const statusWrites = (all: Awaited<ReturnType<typeof events>>) =>
  all
    .filter((e) => e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    .map(
      (e) =>
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.ThreadlineStatus,
    )
    .filter((p) => p?.data)
    .map((p) => JSON.parse(Buffer.from(p!.data!).toString()) as string);
const millis = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

describe('quiet turns', () => {
  it('a busy conversation ends its run on the idle timeout counted from its last turn', async () => {
    const c = h.conversation('quiet');
    // Three turns 1 s apart: the first turn's timeout passes while the conversation is busy.
    for (const text of ['one', 'two', 'three']) {
      expect((await c.send(text)).status).toBe('answered');
      if (text !== 'three') await sleep(1_000);
    }
    const describe = () => c.handle.describe().then((d) => d.status.name);
    await expect.poll(describe, { timeout: 10_000, interval: 100 }).toBe('COMPLETED');
    const all = await events(c.workflowId);
    const lastReply = all.filter(
      (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    );
    expect(lastReply).toHaveLength(3);
    const end = all.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)!;
    // Not before the timeout from the last turn (the first turn's timer fired and was re-armed)...
    expect(millis(end) - millis(lastReply.at(-1)!)).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(count(all, EventType.EVENT_TYPE_TIMER_CANCELED)).toBe(0);
    // ...and with at most one timer per timeout period (3.5 s of run: 2 or 3), not one per turn and wait.
    expect(count(all, EventType.EVENT_TYPE_TIMER_STARTED)).toBeLessThanOrEqual(3);
    // The status was written at the start and at the close: no turn changed it.
    expect(statusWrites(all)).toEqual(['idle']);
    await recordHistory('v6-quiet-turns-idle', c.handle);
  });

  it('writes the status when a turn fails, and again when the next one does not', async () => {
    const c = h.conversation('quiet');
    expect((await c.send('fine')).status).toBe('answered');
    h.emulator.faults.add({
      kind: 'error',
      errorStatus: 400,
      error: { message: 'Invalid value for input.', type: 'invalid_request_error', code: null },
      match: { path: '^/v1/responses$' },
    });
    expect((await c.send('this one fails')).status).toBe('failed');
    expect((await c.send('fine again')).status).toBe('answered');
    expect((await c.send('still fine')).status).toBe('answered');
    expect(statusWrites(await events(c.workflowId))).toEqual(['idle', 'failed', 'idle']);
    const described = await c.handle.describe();
    expect(described.searchAttributes.ThreadlineStatus).toEqual(['idle']);
    await recordHistory('v6-quiet-turns-failed', c.handle);
  });

  it('a conversation cancelled (from the Temporal UI, say) while it waits ends cancelled, not stuck', async () => {
    const c = h.conversation('quiet');
    expect((await c.send('hello')).status).toBe('answered');
    await c.handle.cancel();
    await expect
      .poll(() => c.handle.describe().then((d) => d.status.name), { timeout: 10_000, interval: 100 })
      .toBe('CANCELLED');
    const all = await events(c.workflowId);
    expect(count(all, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toBe(0);
  });
});
