import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, seen, startHarness, testAgent, type Harness } from './harness.js';

/**
 * A conversation longer than the model's context window keeps answering under every strategy: the
 * state that outgrew the window is replaced by a budgeted window from the Postgres transcript, and
 * that is recorded like a recovery ('context_trimmed').
 */
let h: Harness;
const WINDOW = 1_000;
const BUDGET = 400;
beforeAll(async () => {
  h = await startHarness({
    agents: [
      testAgent('chain', { historyTokenBudget: BUDGET }),
      testAgent('conv', { strategy: 'conversation', historyTokenBudget: BUDGET }),
      // A budget larger than the window: the first overflow halves it.
      testAgent('stateless', { strategy: 'stateless', historyTokenBudget: 2 * WINDOW }),
    ],
  });
  h.emulator.models.set(MODEL, { contextWindowTokens: WINDOW });
});
afterAll(async () => h?.close());

describe.each(['chain', 'conv', 'stateless'])('%s', (agent) => {
  it('answers every turn past the model window, and records the trims', async () => {
    const c = h.conversation(agent);
    const filler = 'lorem ipsum dolor '.repeat(20);
    const replies = [];
    for (let i = 1; i <= 12; i++) replies.push(await c.send(`turn ${i}: ${filler}`));
    expect(replies.map((r) => r.status)).toEqual(Array(12).fill('answered'));
    expect(seen(replies.at(-1)!.text).first).toMatch(/^turn \d+:/);
    const { rows } = await h.db.pool.query<{ turn: number; recovery: string | null }>(
      'SELECT turn, recovery FROM model_calls WHERE conversation_id = $1 ORDER BY turn',
      [c.workflowId],
    );
    const trims = rows.filter((r) => r.recovery === 'context_trimmed');
    expect(trims.length).toBeGreaterThanOrEqual(1);
    // After a trim a chain or conversation runs on the new, smaller state: not every later turn
    // needs one. (Stateless has no state; every call past the window is trimmed.)
    if (agent !== 'stateless') expect(trims.length).toBeLessThan(rows.length - trims[0]!.turn + 1);
    const metadata = await c.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/^Turn 12: answered/);
  });
});
