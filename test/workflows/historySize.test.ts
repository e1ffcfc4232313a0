import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, testAgent, type Harness } from './harness.js';

/**
 * The one rule, measured: Temporal history holds orchestration, Postgres holds content. At turn 200
 * a turn costs as many history events and bytes as at turn 2, whatever the messages' sizes; a
 * design that passed the conversation through activities would grow with every turn.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ agents: [testAgent('plain')] });
});
afterAll(async () => h?.close());

const { EventType } = temporal.api.enums.v1;
const TURNS = 200;
const small = (i: number) => `short ${i}`;
const large = (i: number) => `long ${i} ${'x'.repeat(4_000)}`;

interface TurnCost {
  events: number;
  bytes: number;
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
    const runs: string[] = [];
    for await (const wf of h.client.workflow.list({ query: `WorkflowId = "${c.workflowId}"` }))
      runs.push(wf.runId);
    const turns: TurnCost[] = [];
    for (const runId of runs.reverse()) {
      const history = await h.client.workflow.getHandle(c.workflowId, runId).fetchHistory();
      let current: TurnCost | undefined;
      for (const event of history.events ?? []) {
        // A turn starts when its update is accepted and runs until the next one.
        if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
          current = { events: 0, bytes: 0 };
          turns.push(current);
        }
        if (!current) continue;
        current.events += 1;
        current.bytes += temporal.api.history.v1.HistoryEvent.encode(event).finish().length;
      }
    }
    expect(turns).toHaveLength(TURNS);

    // Medians over a window tolerate the one turn that carries a continue-as-new.
    const at = (from: number, to: number, parity: number) => {
      const window = turns.slice(from - 1, to).filter((_, i) => (from + i) % 2 === parity);
      return { events: median(window.map((t) => t.events)), bytes: median(window.map((t) => t.bytes)) };
    };
    const report = {
      small: { turn2: at(2, 11, 0), turn50: at(45, 55, 0), turn200: at(190, 200, 0) },
      large: { turn2: at(2, 11, 1), turn50: at(45, 55, 1), turn200: at(190, 200, 1) },
      runs: runs.length,
    };
    console.log('history per turn', JSON.stringify(report));

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
});
