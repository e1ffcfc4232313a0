import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, testAgent, testTools, type Harness, type TestConversation } from './harness.js';

/**
 * The one rule, measured: Temporal history holds orchestration, Postgres holds content. At turn 200
 * a turn costs as many history events and bytes as at turn 2, whatever the messages' sizes; a
 * design that passed the conversation through activities would grow with every turn.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ agents: [testAgent('plain'), testAgent('tools', { tools: testTools([], 0) })] });
});
afterAll(async () => h?.close());

const { EventType } = temporal.api.enums.v1;
const TURNS = 200;
const small = (i: number) => `short ${i}`;
/**
 * Events per turn since 'quiet-turns' (src/workflows/idleTimer.ts, statusChanges.ts): no status
 * writes and no idle timer started and cancelled in a turn. Before it 15 and 27; before
 * 'finish-in-answering-step' and 'agent-settings-by-activity' 22 and 34; with one activity per
 * step 33 and 45 (docs/benchmarks.md, "A turn in fewer hops").
 */
const PLAIN_TURN_EVENTS = 11;
const TOOL_TURN_EVENTS = 23;
const large = (i: number) => `long ${i} ${'x'.repeat(4_000)}`;

interface TurnCost {
  events: number;
  bytes: number;
  types: string[];
}

/** Each turn's history events and bytes, from its update's acceptance to the next, over every run. */
async function turnCosts(c: TestConversation): Promise<{ turns: TurnCost[]; runs: number }> {
  const runs: string[] = [];
  for await (const wf of h.client.workflow.list({ query: `WorkflowId = "${c.workflowId}"` }))
    runs.push(wf.runId);
  const turns: TurnCost[] = [];
  for (const runId of runs.reverse()) {
    const history = await h.client.workflow.getHandle(c.workflowId, runId).fetchHistory();
    let current: TurnCost | undefined;
    for (const event of history.events ?? []) {
      if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
        current = { events: 0, bytes: 0, types: [] };
        turns.push(current);
      }
      if (!current) continue;
      current.events += 1;
      current.bytes += temporal.api.history.v1.HistoryEvent.encode(event).finish().length;
      current.types.push(EventType[event.eventType!]!.replace('EVENT_TYPE_', ''));
    }
  }
  return { turns, runs: runs.length };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('history per turn', () => {
  it(`stays flat up to turn ${TURNS}, for small and large messages`, { timeout: 300_000 }, async () => {
    const c = h.conversation('plain');
    for (let i = 1; i <= TURNS; i++) {
      const reply = await c.send(i % 2 === 0 ? small(i) : large(i));
      expect(reply.turn).toBe(i);
    }

    // Every run of the workflow (it may have continued-as-new), oldest first.
    const { turns, runs } = await turnCosts(c);
    expect(turns).toHaveLength(TURNS);

    // Medians over a window tolerate the one turn that carries a continue-as-new.
    const at = (from: number, to: number, parity: number) => {
      const window = turns.slice(from - 1, to).filter((_, i) => (from + i) % 2 === parity);
      return { events: median(window.map((t) => t.events)), bytes: median(window.map((t) => t.bytes)) };
    };
    const report = {
      small: { turn2: at(2, 11, 0), turn50: at(45, 55, 0), turn200: at(190, 200, 0) },
      large: { turn2: at(2, 11, 1), turn50: at(45, 55, 1), turn200: at(190, 200, 1) },
      runs,
    };
    console.log('history per turn', JSON.stringify(report));

    // A turn in fewer hops: the input recorded by the first model step, finish and delivery in one.
    expect(report.small.turn2.events).toBeLessThanOrEqual(PLAIN_TURN_EVENTS);
    for (const size of [report.small, report.large]) {
      expect(size.turn200.events).toBe(size.turn2.events);
      expect(size.turn50.events).toBe(size.turn2.events);
      // Only ids and counters differ in length (turn 2 vs turn 200): a few bytes, not the history.
      expect(Math.abs(size.turn200.bytes - size.turn2.bytes)).toBeLessThan(200);
      expect(Math.abs(size.turn50.bytes - size.turn2.bytes)).toBeLessThan(200);
    }
    // A 4 KB message is in history four times: the update that brings it, the activity that stores
    // it, and (the emulator echoes it) the model step's final text and the update's reply. Never
    // the conversation so far.
    expect(report.large.turn200.bytes - report.small.turn200.bytes).toBeLessThan(4 * 4_100);
  });

  it(
    `a tool turn takes fewer events than before, flat up to turn ${TURNS}`,
    { timeout: 300_000 },
    async () => {
      const c = h.conversation('tools');
      for (let i = 1; i <= TURNS; i++) {
        const reply = await c.send(`call get_time {"zone":"UTC"} please (${i})`);
        expect(reply.turn).toBe(i);
        expect(reply.text).toMatch(/get_time/);
      }
      const { turns } = await turnCosts(c);
      expect(turns).toHaveLength(TURNS);
      const window = (from: number, to: number) => median(turns.slice(from - 1, to).map((t) => t.events));
      const report = { turn2: window(2, 11), turn50: window(45, 55), turn200: window(190, 200) };
      console.log('history per tool turn', JSON.stringify(report), turns[1]!.types.join(' '));
      expect(report.turn2).toBeLessThanOrEqual(TOOL_TURN_EVENTS);
      expect(report.turn50).toBe(report.turn2);
      expect(report.turn200).toBe(report.turn2);
    },
  );
});
