import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelSender } from '../../src/activities/delivery.js';
import { senderKey } from '../../src/channels/senders.js';
import { REWRITE_REQUEST } from '../../src/activities/model.js';
import { closeSignal, resetSignal } from '../../src/workflows/messages.js';
import {
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

const runs: ToolRun[] = [];
const sent: { externalId: string; text: string; idempotencyKey: string }[] = [];
let failNextSends = 0;
/** A channel that fails its first sends on demand, to show retries deliver once. */
const flakySender: ChannelSender = {
  async send(reply) {
    if (failNextSends > 0) {
      failNextSends -= 1;
      throw new Error('channel unavailable');
    }
    sent.push(reply);
    return `wamid.${sent.length}`;
  },
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    agents: [
      testAgent('plain'),
      testAgent('tools', { tools: testTools(runs), maxToolRounds: 2 }),
      testAgent('burst', { burst: { quietMs: 800, maxWaitMs: 5_000 } }),
      testAgent('can', { continueAsNewAfterTurns: 2 }),
    ],
    senders: new Map([[senderKey('default', 'whatsapp'), flakySender]]),
  });
});
afterAll(async () => h?.close());
afterEach(() => h.emulator.faults.clear());

async function rows<T>(sql: string, params: unknown[]): Promise<T[]> {
  return (await h.db.pool.query(sql, params)).rows as T[];
}

describe('turns', () => {
  it('chains turns on previous_response_id, so the model remembers', async () => {
    const c = h.conversation('plain');
    const first = await c.send('My name is Ada.');
    const second = await c.send('What is my name?');
    const third = await c.send('And again?');
    expect(seen(third.text)).toEqual({ userMessages: 3, first: 'My name is Ada.' });
    const requests = responseRequests(h.emulator).slice(-3);
    expect(requests.map((r) => r.previous_response_id ?? null)).toEqual([
      null,
      first.responseId,
      second.responseId,
    ]);
    // Only the new message is sent each turn: the history lives server-side (and in Postgres).
    expect(requests[2]!.input).toHaveLength(1);
    const state = await c.state();
    expect(state).toMatchObject({
      turns: 3,
      strategy: 'previous_response_id',
      lastResponseId: third.responseId,
    });
    expect(state.usage.modelCalls).toBe(3);
    expect(state.usage.inputTokens).toBeGreaterThan(0);
    // Every call is priced from config/prices.json (gpt-5-mini has a price there).
    const costs = await rows<{ cost_usd: string | null }>(
      'SELECT cost_usd FROM model_calls WHERE conversation_id = $1',
      [c.workflowId],
    );
    expect(costs.map((r) => Number(r.cost_usd) > 0)).toEqual([true, true, true]);
    await recordHistory('v1-chained-turns', c.handle);
  });

  it('runs two tool calls concurrently, each with the conversation identity and an idempotency key', async () => {
    const c = h.conversation('tools');
    runs.length = 0;
    // The model tries to smuggle in another tenant; the tool still sees the runtime's identity.
    const reply = await c.send(
      'call get_weather {"city":"Rome","tenant":"evil"} and call get_time {"zone":"CET"}',
      {
        user: 'user-42',
      },
    );
    expect(reply.text).toMatch(/^Tool results: get_weather -> .*"temp":21.*; get_time -> .*12:00/);
    expect(runs.map((r) => r.name).sort()).toEqual(['get_time', 'get_weather']);
    const [a, b] = runs as [ToolRun, ToolRun];
    expect(a.startedAt < b.endedAt && b.startedAt < a.endedAt).toBe(true); // overlapping: concurrent
    for (const run of runs) {
      expect(run.context).toMatchObject({
        tenant: 'default',
        channel: 'web',
        conversationId: c.workflowId,
        externalId: c.input.externalId,
        user: 'user-42',
        turn: 1,
      });
      expect(run.context.idempotencyKey).toBe(`${c.workflowId}/1/${run.context.callId}`);
    }
    await recordHistory('v1-parallel-tools', c.handle);
    const items = await rows<{ type: string }>(
      'SELECT type FROM session_items WHERE session_id = $1 ORDER BY seq',
      [c.workflowId],
    );
    // Each response's reasoning item comes first, as the live API returns it.
    expect(items.map((i) => i.type)).toEqual([
      'message',
      'reasoning',
      'function_call',
      'function_call',
      'function_call_output',
      'function_call_output',
      'reasoning',
      'message',
    ]);
    const calls = await rows<{ status: string; attempts: number }>(
      'SELECT status, attempts FROM tool_calls WHERE conversation_id = $1',
      [c.workflowId],
    );
    expect(calls).toEqual([
      expect.objectContaining({ status: 'completed', attempts: 1 }),
      expect.objectContaining({ status: 'completed', attempts: 1 }),
    ]);
  });

  it('stops at the tool round limit with a reply in words, not a crash', async () => {
    const c = h.conversation('tools');
    runs.length = 0;
    const reply = await c.send('keep calling call get_time {"zone":"UTC"}');
    expect(reply.status).toBe('answered');
    expect(runs).toHaveLength(2); // maxToolRounds: 2
    const last = responseRequests(h.emulator).at(-1)!;
    expect(last.tool_choice).toBe('none');
    const skipped = await rows<{ status: string; output: string }>(
      "SELECT status, output FROM tool_calls WHERE conversation_id = $1 AND status = 'skipped'",
      [c.workflowId],
    );
    expect(skipped).toEqual([{ status: 'skipped', output: 'Not run: the tool round limit was reached.' }]);
    // The chain stays valid: the next turn works.
    expect((await c.send('thanks')).status).toBe('answered');
    await recordHistory('v1-tool-round-limit', c.handle);
  });

  it('the output guard asks once for a rewrite when the reply is raw tool-call JSON', async () => {
    const c = h.conversation('tools');
    const reply = await c.send('answer in raw json please');
    expect(reply.text).toMatch(/^You said: "answer in raw json please"/);
    const [guarded, rewrite] = responseRequests(h.emulator).slice(-2);
    expect(guarded!.tool_choice).toBe('auto');
    expect(rewrite!.tool_choice).toBe('none');
    expect(JSON.stringify(rewrite!.input)).toContain(REWRITE_REQUEST);
    await recordHistory('v1-output-guard', c.handle);
  });

  it('answers a burst of three messages in one turn, every sender getting the reply', async () => {
    const c = h.conversation('burst');
    const replies = await Promise.all([
      c.send('I would like'),
      new Promise((r) => setTimeout(r, 150)).then(() => c.send('a table for two')),
      new Promise((r) => setTimeout(r, 300)).then(() => c.send('tomorrow at eight')),
    ]);
    expect(new Set(replies.map((r) => r.turn))).toEqual(new Set([1]));
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    expect(seen(replies[0]!.text)).toEqual({ userMessages: 3, first: 'I would like' });
    const input = responseRequests(h.emulator).at(-1)!.input as { content: { text: string }[] }[];
    expect(input.map((i) => i.content[0]!.text)).toEqual([
      'I would like',
      'a table for two',
      'tomorrow at eight',
    ]);
    expect((await c.state()).turns).toBe(1);
    await recordHistory('v1-burst', c.handle);
  });

  it('a message arriving during a turn waits for the next turn', async () => {
    const c = h.conversation('plain');
    const slow = h.emulator.faults.add({
      kind: 'latency',
      latencyMs: 1_500,
      match: { path: '^/v1/responses$' },
    });
    const first = c.send('first');
    await untilFaultHit(h.emulator, slow);
    const second = await c.send('second');
    expect((await first).turn).toBe(1);
    expect(second.turn).toBe(2);
    expect(seen(second.text)).toEqual({ userMessages: 2, first: 'first' });
  });

  it('waits out a 429 storm (Retry-After as the retry delay), then answers once', async () => {
    const c = h.conversation('plain');
    h.emulator.faults.add({
      kind: 'rate_limit',
      times: 3,
      retryAfterMs: 300,
      match: { path: '^/v1/responses$' },
    });
    const before = responseRequests(h.emulator).length;
    const started = Date.now();
    const reply = await c.send('hello despite the storm');
    expect(reply.status).toBe('answered');
    expect(responseRequests(h.emulator).length - before).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // three waits of retry-after-ms
    const calls = await rows('SELECT status FROM model_calls WHERE conversation_id = $1', [c.workflowId]);
    expect(calls).toEqual([{ status: 'completed' }]);
  });

  it.each([
    [
      'a non-retryable 400',
      {
        kind: 'error',
        errorStatus: 400,
        error: { message: 'Invalid value for temperature.', code: 'invalid_value', param: 'temperature' },
      },
    ],
    ['insufficient_quota', { kind: 'quota' }],
  ] as const)('after %s the user gets the apology, and the next message works', async (_name, fault) => {
    const c = h.conversation('plain');
    await c.send('remember me');
    h.emulator.faults.add({ ...fault, match: { path: '^/v1/responses$' } });
    const before = responseRequests(h.emulator).length;
    const failed = await c.send('this one fails');
    expect(failed).toMatchObject({ status: 'failed', text: testAgent('x').apologyText, turn: 2 });
    expect(responseRequests(h.emulator).length - before).toBe(1); // not retried
    const state = await c.state();
    expect(state.lastError).toMatch(/OpenAI (400 invalid_value|429 insufficient_quota)/);
    const next = await c.send('and now?');
    expect(next.status).toBe('answered');
    // Chained on the last good response: the failed turn's message is not in the chain.
    expect(seen(next.text)).toEqual({ userMessages: 2, first: 'remember me' });
    expect((await c.state()).lastError).toBeNull();
    const apology = await rows<{ item: { content: { text: string }[] } }>(
      "SELECT item FROM session_items WHERE session_id = $1 AND item_key = 't2/apology'",
      [c.workflowId],
    );
    expect(apology[0]!.item.content[0]!.text).toBe(testAgent('x').apologyText);
    await recordHistory(`v1-failed-turn-${fault.kind}`, c.handle);
  });

  it('answers a message id once: signal twice, update twice, and after the run ended', async () => {
    const c = h.conversation('plain');
    await c.signal('only once', { id: 'dup-1' });
    await c.handle.signal('message', {
      id: 'dup-1',
      text: 'only once',
      receivedAt: new Date().toISOString(),
    });
    const reply = await c.send('only once', { id: 'dup-1' });
    expect(await c.send('only once', { id: 'dup-1' })).toEqual(reply);
    expect((await c.state()).turns).toBe(1);

    // A new run has forgotten the id; Postgres has not.
    await c.handle.signal(closeSignal);
    await c.handle.result();
    const again = await c.send('only once', { id: 'dup-1' });
    expect(again.status).toBe('duplicate');
    expect((await c.state()).turns).toBe(1);
    const inputs = await rows('SELECT 1 FROM session_items WHERE session_id = $1 AND role = $2', [
      c.workflowId,
      'user',
    ]);
    expect(inputs).toHaveLength(1);
  });

  it('continues-as-new keeping turns, pointer, usage and the dedupe set', async () => {
    const c = h.conversation('can');
    const firstRun = (await c.handle.describe().catch(() => undefined))?.runId;
    expect(firstRun).toBeUndefined();
    await c.send('one', { id: 'can-1' });
    const runBefore = (await c.handle.describe()).runId;
    await c.send('two');
    await expect.poll(async () => (await c.handle.describe()).runId, { timeout: 10_000 }).not.toBe(runBefore);
    const three = await c.send('three');
    expect(three.turn).toBe(3);
    expect(seen(three.text)).toEqual({ userMessages: 3, first: 'one' });
    expect(await c.send('one', { id: 'can-1' })).toMatchObject({ status: 'answered', turn: 1 });
    const state = await c.state();
    expect(state).toMatchObject({ turns: 3, lastResponseId: three.responseId });
    expect(state.usage.modelCalls).toBe(3);
    await recordHistory('v1-continue-as-new', c.handle, runBefore);
  });

  it('reset starts a new segment: the model forgets, Postgres keeps the old items', async () => {
    const c = h.conversation('plain');
    await c.send('before the reset');
    await c.handle.signal(resetSignal);
    const after = await c.send('after the reset');
    expect(seen(after.text)).toEqual({ userMessages: 1, first: 'after the reset' });
    expect(responseRequests(h.emulator).at(-1)!.previous_response_id).toBeUndefined();
    const segments = await rows<{ segment: number }>(
      'SELECT segment FROM session_items WHERE session_id = $1 ORDER BY seq',
      [c.workflowId],
    );
    // user, reasoning, answer in each segment
    expect(segments.map((s) => s.segment)).toEqual([0, 0, 0, 1, 1, 1]);
    expect((await c.state()).segment).toBe(1);
    await recordHistory('v1-reset', c.handle);
  });

  it('close answers what is queued and ends the run; the next message restores state from Postgres', async () => {
    const c = h.conversation('plain');
    await c.send('first run');
    await c.handle.signal(closeSignal);
    await c.handle.result();
    const status = await rows<{ status: string; turns: number }>(
      'SELECT status, turns FROM conversations WHERE id = $1',
      [c.workflowId],
    );
    expect(status).toEqual([{ status: 'closed', turns: 1 }]);
    await recordHistory('v1-close', c.handle);
    const next = await c.send('second run');
    expect(next.turn).toBe(2);
    expect(seen(next.text)).toEqual({ userMessages: 2, first: 'first run' });
  });

  it('delivers each reply once through the channel, even when the channel fails first', async () => {
    const c = h.conversation('plain');
    const wa = h.client.workflow.getHandle(c.workflowId.replace(':web:', ':whatsapp:'));
    const whatsapp = { ...c.input, channel: 'whatsapp' };
    failNextSends = 1;
    sent.length = 0;
    const reply = await h.client.workflow.executeUpdateWithStart('sendMessage', {
      args: [{ id: 'wa-1', text: 'hola', receivedAt: new Date().toISOString() }],
      startWorkflowOperation: new (await import('@temporalio/client')).WithStartWorkflowOperation(
        'conversationWorkflow',
        {
          workflowId: wa.workflowId,
          taskQueue: h.taskQueue,
          args: [whatsapp],
          workflowIdConflictPolicy: 'USE_EXISTING',
        },
      ),
    });
    expect(sent).toEqual([
      {
        conversationId: wa.workflowId,
        externalId: c.input.externalId,
        text: (reply as { text: string }).text,
        idempotencyKey: `${wa.workflowId}/1`,
      },
    ]);
    const ledger = await rows<{ status: string; attempts: number; provider_message_id: string }>(
      'SELECT status, attempts, provider_message_id FROM deliveries WHERE conversation_id = $1',
      [wa.workflowId],
    );
    expect(ledger).toEqual([{ status: 'sent', attempts: 2, provider_message_id: 'wamid.1' }]);
    // The answering step's send failed: the turn's finishAndDeliver sent it, with delivery's retries.
    const scheduled = ((await wa.fetchHistory()).events ?? []).flatMap((e) =>
      e.activityTaskScheduledEventAttributes
        ? [e.activityTaskScheduledEventAttributes.activityType!.name]
        : [],
    );
    expect(scheduled).toEqual(['openConversation', 'beginTurn', 'finishAndDeliver']);
    await recordHistory('v6-send-failed-in-answering-step', wa);
  });
});
