import { tool } from '@openai/agents';
import { temporal } from '@temporalio/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { requestMetadata } from '../../src/activities/model.js';
import { conciergeAgent } from '../../src/agents/concierge/index.js';
import { BookingLedger } from '../../src/agents/concierge/tools.js';
import { defineAgent } from '../../src/agents/define.js';
import {
  MODEL,
  listWorkflowIds,
  recordHistory,
  responseRequests,
  seen,
  startHarness,
  testAgent,
  testTools,
  type Harness,
  type ToolRun,
  untilFaultHit,
} from './harness.js';

/** Agents and tools as users define them, long life, and what operators see. */
const ledger = new BookingLedger();
const runs: ToolRun[] = [];
let flakyFailures = 0;
const flaky = tool({
  name: 'flaky_lookup',
  description: 'Fails twice, then works.',
  parameters: z.object({ q: z.string() }),
  strict: true,
  // null: errors propagate, so Temporal retries the activity (the default turns them into text).
  errorFunction: null,
  execute: async ({ q }) => {
    if (flakyFailures < 2) {
      flakyFailures += 1;
      throw new Error(`backend hiccup ${flakyFailures}`);
    }
    return `found ${q}`;
  },
});
const broken = tool({
  name: 'broken_lookup',
  description: 'Always fails.',
  parameters: z.object({ q: z.string() }),
  strict: true,
  errorFunction: null,
  execute: async () => {
    throw new Error('backend down');
  },
});

let outageFailures = 0;
/** Its dependency is down for its first three attempts: one more than the default attempt limit. */
const outage = tool({
  name: 'outage_lookup',
  description: 'Fails while its database is down, then works.',
  parameters: z.object({ q: z.string() }),
  strict: true,
  errorFunction: null,
  execute: async ({ q }) => {
    if (outageFailures < 3) {
      outageFailures += 1;
      throw new Error(`database unavailable ${outageFailures}`);
    }
    return `found ${q}`;
  },
});
const hopeless = tool({
  name: 'hopeless_lookup',
  description: 'Always fails.',
  parameters: z.object({ q: z.string() }),
  strict: true,
  errorFunction: null,
  execute: async () => {
    throw new Error('database gone');
  },
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    agents: [
      conciergeAgent(MODEL, ledger),
      testAgent('tools', {
        tools: [...testTools(runs, 10), flaky, broken, outage, hopeless],
        toolPolicies: {
          broken_lookup: { timeoutMs: 5_000, maxAttempts: 2 },
          outage_lookup: { timeoutMs: 2_000, maxDurationMs: 30_000 },
          hopeless_lookup: { timeoutMs: 1_000, maxDurationMs: 2_500 },
        },
      }),
      testAgent('can', { continueAsNewAfterTurns: 2 }),
      testAgent('idle', { idleTimeoutMs: 1_500 }),
    ],
  });
});
afterAll(async () => h?.close());
afterEach(() => h.emulator.faults.clear());

describe('the example agent (concierge)', () => {
  it('checks availability, books once, with identity, local time from workflow time, kept exactly', async () => {
    const c = h.conversation('concierge');
    const reply = await c.send(
      'call check_availability {"date":"2026-11-22","party_size":2} and call book_table {"date":"2026-11-22","time":"19:00","party_size":2,"name":"Ada"}',
      { user: 'wa:+39333' },
    );
    expect(reply.text).toMatch(/check_availability -> .*"free":\[/);
    expect(reply.text).toContain('"confirmed":true');
    const bookings = [...ledger.bookings.values()];
    expect(bookings).toEqual([
      expect.objectContaining({
        tenant: 'default',
        conversationId: c.workflowId,
        user: 'wa:+39333',
        name: 'Ada',
        time: '19:00',
      }),
    ]);
    expect([...ledger.attempts.values()]).toEqual([1]);

    // The contextualize hook's items are what the model got and what the transcript keeps.
    const sent = responseRequests(h.emulator).find((r) =>
      JSON.stringify(r.input).includes('call book_table'),
    )!;
    const kept = await h.db.pool.query<{ item: unknown }>(
      "SELECT item FROM session_items WHERE session_id = $1 AND item_key LIKE 't1/in/%' ORDER BY seq",
      [c.workflowId],
    );
    expect(kept.rows.map((r) => r.item)).toEqual(sent.input);
    const localTime = (sent.input as { role: string; content: { text: string }[] }[])[0]!;
    expect(localTime.role).toBe('developer');
    expect(localTime.content[0]!.text).toMatch(/^Local time: .+ \(Europe\/Rome\)\.$/);
    expect(sent.metadata).toMatchObject({
      tenant: 'default',
      channel: 'web',
      conversation: c.input.externalId,
      turn: '1',
    });
    await recordHistory('v1-concierge', c.handle);
  });
});

describe('tools', () => {
  it('a failing tool is retried by Temporal and its side effect reported once', async () => {
    const c = h.conversation('tools');
    const reply = await c.send('call flaky_lookup {"q":"x"}');
    expect(reply.text).toBe('Tool results: flaky_lookup -> found x.');
    const calls = await h.db.pool.query(
      'SELECT status, attempts FROM tool_calls WHERE conversation_id = $1',
      [c.workflowId],
    );
    expect(calls.rows).toEqual([{ status: 'completed', attempts: 3 }]);
  });

  it('a tool that keeps failing gives the model its error after the last attempt, and the turn goes on', async () => {
    const c = h.conversation('tools');
    const reply = await c.send('call broken_lookup {"q":"x"}');
    expect(reply.status).toBe('answered');
    expect(reply.text).toBe(
      'Tool results: broken_lookup -> Error: the tool broken_lookup failed: backend down.',
    );
    const calls = await h.db.pool.query(
      'SELECT status, attempts FROM tool_calls WHERE conversation_id = $1',
      [c.workflowId],
    );
    expect(calls.rows).toEqual([{ status: 'failed', attempts: 2 }]);
  });

  it('a tool bounded by time is retried past the default attempts while its dependency is down, then answered', async () => {
    const c = h.conversation('tools');
    const reply = await c.send('call outage_lookup {"q":"x"}');
    expect(reply.text).toBe('Tool results: outage_lookup -> found x.');
    const calls = await h.db.pool.query(
      'SELECT status, attempts FROM tool_calls WHERE conversation_id = $1',
      [c.workflowId],
    );
    expect(calls.rows).toEqual([{ status: 'completed', attempts: 4 }]);
  });

  it('a tool that fails past its time bound gives the model its last error, and the turn goes on', async () => {
    const c = h.conversation('tools');
    const reply = await c.send('call hopeless_lookup {"q":"x"}');
    expect(reply.status).toBe('answered');
    expect(reply.text).toBe(
      'Tool results: hopeless_lookup -> Error: the tool hopeless_lookup failed: database gone.',
    );
    // Attempts at 0 s and 1 s; the next would start at 3 s, past the 2.5 s bound.
    const calls = await h.db.pool.query<{ status: string; attempts: number }>(
      'SELECT status, attempts FROM tool_calls WHERE conversation_id = $1',
      [c.workflowId],
    );
    expect(calls.rows).toEqual([{ status: 'failed', attempts: 2 }]);
  });
});

describe('long life', () => {
  it('continue-as-new carries messages still in the inbox', async () => {
    const c = h.conversation('can');
    await c.send('one');
    const firstRun = (await c.handle.describe()).runId;
    const slow = h.emulator.faults.add({
      kind: 'latency',
      latencyMs: 1_500,
      match: { path: '^/v1/responses$' },
    });
    const second = c.send('two');
    await untilFaultHit(h.emulator, slow);
    await c.signal('three, sent while two was answered');
    const two = await second;
    // Turn 2 completes the run's quota; message three crosses into the new run and is answered there.
    await expect.poll(async () => (await c.state()).turns, { timeout: 20_000 }).toBe(3);
    expect((await c.handle.describe()).runId).not.toBe(firstRun);
    const last = responseRequests(h.emulator).at(-1)!;
    expect(last.previous_response_id).toBe(two.responseId);
    expect(JSON.stringify(last.input)).toContain('three, sent while two was answered');
  });

  it('an idle run completes; the next message restores pointer and counters from Postgres', async () => {
    const c = h.conversation('idle');
    await c.send('before the nap');
    await c.handle.result(); // completes after idleTimeoutMs
    await recordHistory('v1-idle-timeout', c.handle);
    const after = await c.send('after the nap');
    expect(after.turn).toBe(2);
    expect(seen(after.text)).toEqual({ userMessages: 2, first: 'before the nap' });
  });
});

describe('for operators', () => {
  it('activities carry summaries and the status search attribute follows the turn', async () => {
    const c = h.conversation('tools');
    await c.send('call get_weather {"city":"Oslo"}');
    const history = await c.handle.fetchHistory();
    const summaries = (history.events ?? [])
      // A turn in one hop runs its steps as local activities: their markers carry the summaries.
      .filter(
        (e) =>
          e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED ||
          e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_MARKER_RECORDED,
      )
      .map((e) => e.userMetadata?.summary?.data)
      .filter((d): d is Uint8Array => !!d)
      .map((d) => JSON.parse(Buffer.from(d).toString()) as string);
    expect(summaries.filter((d) => /^(model|tool) /.test(d))).toEqual([
      'model step 1',
      'tool get_weather',
      'model step 2',
    ]);

    h.emulator.faults.add({ kind: 'quota', match: { path: '^/v1/responses$' } });
    await c.send('this fails');
    const query = `ThreadlineStatus = "failed" AND WorkflowId = "${c.workflowId}"`;
    // Visibility is eventually consistent: poll the list as the UI would.
    await expect.poll(() => listWorkflowIds(h.client, query), { timeout: 15_000 }).toEqual([c.workflowId]);
  });
});

describe('agent definitions', () => {
  it('request metadata stays within the API limits whatever the ids', () => {
    const metadata = requestMetadata({
      key: { tenant: 't'.repeat(600), channel: 'whatsapp', externalId: 'x'.repeat(2_000) },
      turn: 12,
      step: 3,
    });
    expect(Object.keys(metadata).length).toBeLessThanOrEqual(16);
    for (const [k, v] of Object.entries(metadata)) {
      expect(k.length).toBeLessThanOrEqual(64);
      expect(v.length).toBeLessThanOrEqual(512);
    }
  });

  it('rejects a definition that would fail at the first turn, naming the problem', () => {
    expect(() =>
      defineAgent({ name: 'x', model: MODEL, instructions: 'i', timeZone: 'Mars/Olympus' }),
    ).toThrow(/timeZone "Mars\/Olympus" is not an IANA time zone/);
    expect(() =>
      defineAgent({
        name: 'x',
        model: MODEL,
        instructions: 'i',
        toolPolicies: { nope: { timeoutMs: 1, maxAttempts: 1 } },
      }),
    ).toThrow(/toolPolicies names "nope", which is not one of its tools/);
  });
});
