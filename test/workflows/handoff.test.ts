import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IGNORED_HANDOFF } from '../../src/workflows/agents.js';
import {
  listWorkflowIds,
  recordHistory,
  responseRequests,
  seen,
  startHarness,
  testAgent,
  testTools,
  type Harness,
  type TestConversation,
  type ToolRun,
} from './harness.js';

/**
 * Many agents in one deployment: a triage agent hands the conversation to a booking agent (the
 * model calls `transfer_to_booking`), within a turn, for later turns, across continue-as-new and
 * across a new run after the idle timeout; an agent changed or removed by a deploy between turns.
 */
const runs: ToolRun[] = [];
const [getWeather, getTime] = testTools(runs, 10);
const pair = (suffix: string, extra: Parameters<typeof testAgent>[1] = {}) => [
  testAgent(`triage${suffix}`, {
    instructions: `You are the triage desk${suffix}. Hand bookings over.`,
    tools: [getWeather!],
    handoffs: [`booking${suffix}`, `billing${suffix}`],
    ...extra,
  }),
  testAgent(`booking${suffix}`, {
    instructions: `You are the booking desk${suffix}.`,
    tools: [getTime!],
    handoffDescription: 'Books tables.',
    apologyText: `Booking${suffix} is sorry.`,
    ...extra,
  }),
  testAgent(`billing${suffix}`, { instructions: `You are billing${suffix}.`, ...extra }),
];
const agents = [
  ...pair(''),
  ...pair('-can', { continueAsNewAfterTurns: 1 }),
  ...pair('-idle', { idleTimeoutMs: 1_000 }),
  testAgent('changing', { instructions: 'Version one.' }),
];

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ agents });
});
afterAll(async () => h?.close());

/** The conversation's model requests, oldest first: which instructions and tools each step had. */
function steps(c: TestConversation) {
  return responseRequests(h.emulator)
    .filter((r) => (r.metadata as Record<string, string>).conversation === c.input.externalId)
    .map((r) => ({
      instructions: r.instructions,
      tools: ((r.tools ?? []) as { name: string }[]).map((t) => t.name),
      previous: r.previous_response_id ?? null,
    }));
}

async function modelCallAgents(c: TestConversation): Promise<string[]> {
  const { rows } = await h.db.pool.query<{ agent: string }>(
    'SELECT agent FROM model_calls WHERE conversation_id = $1 ORDER BY turn, step',
    [c.workflowId],
  );
  return rows.map((r) => r.agent);
}

async function conversationAgent(c: TestConversation): Promise<string> {
  const { rows } = await h.db.pool.query<{ agent: string }>('SELECT agent FROM conversations WHERE id = $1', [
    c.workflowId,
  ]);
  return rows[0]!.agent;
}

describe('a handoff', () => {
  it('within a turn: the next step continues the transcript as the target, with its instructions and tools', async () => {
    const c = h.conversation('triage');
    const reply = await c.send('I want a table: call transfer_to_booking');
    expect(reply).toMatchObject({ status: 'answered', turn: 1 });
    // The booking agent answers the guest's message (not the transfer's output), as a live model does.
    expect(reply.text).toMatch(
      /^You said: "I want a table: call transfer_to_booking" .*instructions: yes\]$/,
    );
    const [first, second] = steps(c);
    expect(first).toMatchObject({
      instructions: 'You are the triage desk. Hand bookings over.',
      tools: ['get_weather', 'transfer_to_booking', 'transfer_to_billing'],
    });
    expect(second).toMatchObject({ instructions: 'You are the booking desk.', tools: ['get_time'] });
    expect(second!.previous).not.toBeNull();
    // Recorded: on the model calls, on the conversation, in the transcript, for operators.
    expect(await modelCallAgents(c)).toEqual(['triage', 'booking']);
    expect(await conversationAgent(c)).toBe('booking');
    expect((await c.state()).agent).toBe('booking');
    const { rows } = await h.db.pool.query<{ item: Record<string, unknown> }>(
      `SELECT item FROM session_items WHERE session_id = $1 AND type IN ('function_call', 'function_call_output') ORDER BY seq`,
      [c.workflowId],
    );
    expect(rows.map((r) => r.item.name ?? r.item.output)).toEqual([
      'transfer_to_booking',
      '{"assistant":"booking"}',
    ]);
    await expect
      .poll(
        () => listWorkflowIds(h.client, `ThreadlineAgent = "booking" AND WorkflowId = "${c.workflowId}"`),
        {
          timeout: 15_000,
        },
      )
      .toEqual([c.workflowId]);

    // Later turns: the booking agent answers, with its own tools; the triage agent's are not offered.
    const later = await c.send('call get_time {"zone":"Europe/Rome"}');
    expect(later.text).toBe('Tool results: get_time -> {"zone":"Europe/Rome","time":"12:00"}.');
    const third = await c.send('and the weather? call get_weather');
    expect(seen(third.text).userMessages).toBe(3);
    expect(
      steps(c)
        .slice(2)
        .map((s) => s.instructions),
    ).toEqual(['You are the booking desk.', 'You are the booking desk.', 'You are the booking desk.']);
    expect(await modelCallAgents(c)).toEqual(['triage', 'booking', 'booking', 'booking', 'booking']);
    await recordHistory('v4-agents-handoff', c.handle);
    await recordHistory('v5-perf2-handoff', c.handle);
  });

  it('follows only the first of two transfers in one response; the other is answered, not run', async () => {
    const c = h.conversation('triage');
    const reply = await c.send('call transfer_to_billing and call transfer_to_booking');
    expect(reply.text).toMatch(/^You said: "call transfer_to_billing and call transfer_to_booking"/);
    const { rows: outputs } = await h.db.pool.query<{ output: string }>(
      `SELECT item->>'output' AS output FROM session_items WHERE session_id = $1 AND type = 'function_call_output' ORDER BY seq`,
      [c.workflowId],
    );
    // Both outputs, in either order: the transfer and the refusal are written by concurrent steps.
    expect(outputs.map((o) => o.output).sort()).toEqual(
      ['{"assistant":"billing"}', `Not run: ${IGNORED_HANDOFF}`].sort(),
    );
    expect((await c.state()).agent).toBe('billing');
    expect(steps(c)[1]!.instructions).toBe('You are billing.');
  });

  it('the target keeps answering across continue-as-new', async () => {
    const c = h.conversation('triage-can');
    // "booking-can" is not a valid function name as is: the SDK's rule makes it one.
    await c.send('call transfer_to_booking_can');
    expect(steps(c)[0]!.tools).toContain('transfer_to_booking_can');
    // The turn completes the run's quota (one turn): the run continues as new.
    const continuedFrom = async () =>
      (await c.handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes
        ?.continuedExecutionRunId || null;
    await expect.poll(continuedFrom, { timeout: 10_000 }).not.toBeNull();
    const first = (await continuedFrom())!;
    expect((await c.state()).agent).toBe('booking-can');
    const next = await c.send('still there?');
    expect(next).toMatchObject({ status: 'answered', turn: 2 });
    expect(steps(c).at(-1)!.instructions).toBe('You are the booking desk-can.');
    await recordHistory('v4-agents-handoff-continue-as-new', c.handle, first);
  });

  it('a new run after the idle timeout restores the agent from Postgres, not the routed one', async () => {
    const c = h.conversation('triage-idle');
    await c.send('call transfer_to_booking_idle');
    expect((await c.state()).agent).toBe('booking-idle');
    await c.handle.result(); // the run ends after the booking agent's idle timeout
    // The next message starts a run with the routed agent (triage-idle) in its input.
    expect(c.input.agent).toBe('triage-idle');
    const after = await c.send('after the nap');
    expect(after).toMatchObject({ status: 'answered', turn: 2 });
    expect(seen(after.text).userMessages).toBe(2);
    expect(steps(c).at(-1)!.instructions).toBe('You are the booking desk-idle.');
    expect((await c.state()).agent).toBe('booking-idle');
    await recordHistory('v4-agents-handoff-new-run', c.handle);
    await recordHistory('v6-agents-handoff-new-run', c.handle);
  });
});

describe('an agent changed or removed between turns', () => {
  it('a running conversation takes the new definition at its next turn; a removed agent fails the turn once, with the apology', async () => {
    const c = h.conversation('changing');
    await c.send('one');
    const run = (await c.handle.describe()).runId;
    const others = agents.filter((a) => a.name !== 'changing');
    await h.restartWorker({ agents: [...others, testAgent('changing', { instructions: 'Version two.' })] });
    await c.send('two');
    expect(steps(c).map((s) => s.instructions)).toEqual(['Version one.', 'Version two.']);

    await h.restartWorker({ agents: others });
    const failed = await c.send('three');
    expect(failed).toMatchObject({ status: 'failed', turn: 3, text: testAgent('x').apologyText });
    const error = (await c.state()).lastError;
    expect(error).toMatch(/Unknown agent "changing"/);
    expect(error).not.toMatch(/triage|booking|billing/);
    expect(steps(c)).toHaveLength(2);

    // Back in the next deploy: the same run answers again at once (no waiting for a new run).
    await h.restartWorker({ agents });
    const back = await c.send('four');
    expect(back).toMatchObject({ status: 'answered', turn: 4 });
    expect((await c.handle.describe()).runId).toBe(run);
    expect(steps(c).at(-1)!.instructions).toBe('Version one.');
    await recordHistory('v4-agents-settings-per-turn', c.handle);
    await recordHistory('v6-agents-settings-per-turn', c.handle);
  });
});
