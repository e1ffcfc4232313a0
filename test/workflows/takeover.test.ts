import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelSender } from '../../src/activities/delivery.js';
import { escalationTools } from '../../src/agents/concierge/escalation.js';
import { senderKey } from '../../src/channels/senders.js';
import {
  closeSignal,
  handBackUpdate,
  NOT_IN_HUMAN_MODE,
  operatorMessageUpdate,
  takeOverUpdate,
} from '../../src/workflows/messages.js';
import { escalationReason, OPERATOR_REPLIES_KEPT, Takeover } from '../../src/workflows/takeover.js';
import {
  listWorkflowIds,
  recordHistory,
  responseRequests,
  seen,
  startHarness,
  testAgent,
  type Harness,
  type TestConversation,
} from './harness.js';

describe('Takeover (state)', () => {
  it('keeps the first takeover, and hands back without forgetting what the model must catch up on', () => {
    const t = new Takeover();
    const first = t.takeOver({ operator: ' alice ', reason: 'angry' }, 'operator', 'T1');
    expect(first).toEqual({ operator: 'alice', reason: 'angry', since: 'T1', by: 'operator' });
    expect(t.takeOver({ operator: 'bob' }, 'operator', 'T2')).toBe(first);
    t.noteHumanTurn(4);
    t.noteHumanTurn(5);
    t.handBack();
    expect(t.humanMode).toBeNull();
    expect(t.catchUpFromTurn).toBe(4);
    t.caughtUp();
    expect(t.catchUpFromTurn).toBeNull();
    t.noteHumanTurn(7);
    t.onReset();
    expect(t.catchUpFromTurn).toBeNull();
  });

  it('queues an operator reply once per id and remembers sent ones, bounded, across continue-as-new', () => {
    const t = new Takeover();
    const m = { id: 'op1', operator: 'alice', text: 'Hello' };
    expect(t.enqueue(m)).toBe('queued');
    expect(t.enqueue(m)).toBe('queued');
    expect(t.outbox).toHaveLength(1);
    t.finishReply({ messageId: 'op1', status: 'sent', turn: 3, delivery: 'sent' });
    expect(t.outbox).toHaveLength(0);
    expect(t.enqueue(m)).toMatchObject({ status: 'duplicate', turn: 3 });
    for (let i = 0; i < OPERATOR_REPLIES_KEPT + 3; i++)
      t.finishReply({ messageId: `x${i}`, status: 'sent', turn: i, delivery: 'sent' });
    const carried = new Takeover(JSON.parse(JSON.stringify(t.carry())));
    expect(carried.carry().replies).toHaveLength(OPERATOR_REPLIES_KEPT);
    expect(carried.replyFor(`x${OPERATOR_REPLIES_KEPT + 2}`)?.turn).toBe(OPERATOR_REPLIES_KEPT + 2);
    expect(new Takeover(undefined).humanMode).toBeNull();
  });

  it("reads an escalation tool's reason from its arguments, and nothing from junk", () => {
    expect(escalationReason('{"reason":" shouting "}')).toBe('shouting');
    expect(escalationReason('{"reason":42}')).toBeNull();
    expect(escalationReason('not json')).toBeNull();
  });
});

const sent: { conversationId: string; text: string; idempotencyKey: string }[] = [];
const sender: ChannelSender = {
  async send(reply) {
    sent.push(reply);
    return `msg-${sent.length}`;
  },
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    agents: [
      testAgent('chain'),
      testAgent('convo', { strategy: 'conversation' }),
      testAgent('stateless', { strategy: 'stateless', modelSettings: { store: false } }),
      testAgent('escalate', { tools: escalationTools() }),
      testAgent('idle', { idleTimeoutMs: 1_000 }),
      testAgent('can', { continueAsNewAfterTurns: 1 }),
      testAgent('burst', { burst: { quietMs: 1_500, maxWaitMs: 6_000 } }),
    ],
    senders: new Map([[senderKey('default', 'web'), sender]]),
  });
});
afterAll(async () => h?.close());

const takeOver = (c: TestConversation, operator = 'alice', reason?: string) =>
  c.handle.executeUpdate(takeOverUpdate, { args: [{ operator, ...(reason ? { reason } : {}) }] });
const handBack = (c: TestConversation) =>
  c.handle.executeUpdate(handBackUpdate, { args: [{ operator: 'alice' }] });
const reply = (c: TestConversation, id: string, text: string) =>
  c.handle.executeUpdate(operatorMessageUpdate, { args: [{ id, operator: 'alice', text }] });

async function items(workflowId: string) {
  const { rows } = await h.db.pool.query<{
    turn: number;
    role: string | null;
    item_key: string;
    item: unknown;
  }>('SELECT turn, role, item_key, item FROM session_items WHERE session_id = $1 ORDER BY seq', [workflowId]);
  return rows;
}

const inputText = (body: Record<string, unknown>) => JSON.stringify(body.input);

describe('human takeover', () => {
  for (const agent of ['chain', 'convo', 'stateless'] as const) {
    it(`keeps the agent silent, sends the operator's replies, and the model sees them after the hand back (${agent})`, async () => {
      const c = h.conversation(agent);
      await c.send('Hi, I have a problem.');
      expect(await takeOver(c, 'alice', 'VIP guest')).toMatchObject({ operator: 'alice', by: 'operator' });
      const calls = responseRequests(h.emulator).length;
      const quiet = await c.send('Is anyone there?');
      expect(quiet).toMatchObject({ status: 'human', text: null });
      const op = await reply(c, 'op-1', 'Alice here, let me check your booking.');
      expect(op).toMatchObject({ status: 'sent', delivery: 'sent' });
      expect(responseRequests(h.emulator).length).toBe(calls); // no model call in human mode
      const mine = sent.filter((s) => s.conversationId === c.workflowId);
      expect(mine.map((s) => [s.text, s.idempotencyKey])).toContainEqual([
        'Alice here, let me check your booking.',
        `${c.workflowId}/${op.turn}`,
      ]);
      // The same id again: nothing sent twice.
      expect(await reply(c, 'op-1', 'Alice here, let me check your booking.')).toMatchObject({
        status: 'duplicate',
        turn: op.turn,
      });
      const { rows: ops } = await h.db.pool.query(
        'SELECT operator, turn FROM operator_messages WHERE conversation_id = $1',
        [c.workflowId],
      );
      expect(ops).toEqual([{ operator: 'alice', turn: op.turn }]);
      if (agent === 'chain') {
        await expect
          .poll(
            () => listWorkflowIds(h.client, `ThreadlineHumanMode = true AND WorkflowId = "${c.workflowId}"`),
            { timeout: 10_000 },
          )
          .toEqual([c.workflowId]);
      }

      await handBack(c);
      const back = await c.send('Thanks, what now?');
      expect(back.status).toBe('answered');
      // The model saw both the customer's message in human mode and the operator's reply.
      expect(seen(back.text).userMessages).toBe(3);
      const last = responseRequests(h.emulator).at(-1)!;
      expect(inputText(last)).toContain('Alice here, let me check your booking.');
      expect(inputText(last)).toContain('Is anyone there?');
      if (agent === 'chain') expect(last.previous_response_id).toEqual(expect.any(String));
      // Caught up once: the next call sends only its own input.
      await c.send('One more thing.');
      const next = responseRequests(h.emulator).at(-1)!;
      if (agent !== 'stateless') expect(inputText(next)).not.toContain('Alice here');
      expect(sent.filter((s) => s.conversationId === c.workflowId)).toHaveLength(4);
      if (agent === 'chain') await recordHistory('v4-hitl-takeover', c.handle);
      if (agent === 'chain') await recordHistory('v5-perf2-takeover', c.handle);
      if (agent === 'chain') await recordHistory('v6-quiet-turns-takeover', c.handle);
    });
  }

  it('refuses operator messages unless a human has the conversation', async () => {
    const c = h.conversation('chain');
    await c.send('Hello');
    const err = await reply(c, 'op-x', 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((err as WorkflowUpdateFailedError).cause as { type?: string }).type).toBe(NOT_IN_HUMAN_MODE);
    expect(((err as WorkflowUpdateFailedError).cause as Error).message).toMatch(/take it over first/);
  });

  it('an escalation tool hands the conversation over once its reply is out', async () => {
    const c = h.conversation('escalate');
    const r = await c.send('call mark_customer_frustrated {"reason": "guest is shouting"}');
    expect(r.status).toBe('answered');
    expect(r.text).toMatch(/mark_customer_frustrated -> /);
    await expect
      .poll(async () => (await c.state()).humanMode, { timeout: 10_000 })
      .toMatchObject({
        operator: 'tool:mark_customer_frustrated',
        reason: 'guest is shouting',
        by: 'tool',
      });
    expect(await c.send('Hello??')).toMatchObject({ status: 'human' });
  });

  it('keeps human mode across an idle timeout (a new run restores it) and catches the model up', async () => {
    const c = h.conversation('idle');
    await c.send('First');
    await takeOver(c);
    await c.send('While a human has it');
    await reply(c, 'op-idle', 'Operator speaking.');
    await expect
      .poll(async () => (await c.handle.describe()).status.name, { timeout: 15_000 })
      .toBe('COMPLETED');
    const { rows } = await h.db.pool.query(
      'SELECT human_mode, human_operator FROM conversations WHERE id = $1',
      [c.workflowId],
    );
    expect(rows[0]).toEqual({ human_mode: true, human_operator: 'alice' });
    expect(await c.send('Still a human?')).toMatchObject({ status: 'human' });
    await handBack(c);
    await expect
      .poll(async () => (await c.handle.describe()).status.name, { timeout: 15_000 })
      .toBe('COMPLETED');
    // A third run, after the hand back: the catch-up comes from Postgres.
    const back = await c.send('Agent again?');
    expect(back.status).toBe('answered');
    expect(inputText(responseRequests(h.emulator).at(-1)!)).toContain('Operator speaking.');
    expect(seen(back.text).userMessages).toBe(4);
  });

  it('carries human mode across continue-as-new', async () => {
    const c = h.conversation('can');
    await c.send('One');
    const firstRun = (await c.handle.describe()).runId;
    await takeOver(c);
    expect(await c.send('Two')).toMatchObject({ status: 'human' });
    await expect.poll(async () => (await c.handle.describe()).runId, { timeout: 10_000 }).not.toBe(firstRun);
    expect((await c.state()).humanMode).toMatchObject({ operator: 'alice' });
    await reply(c, 'op-can', 'Operator after continue-as-new.');
    await handBack(c);
    const back = await c.send('Three');
    expect(inputText(responseRequests(h.emulator).at(-1)!)).toContain('Operator after continue-as-new.');
    expect(seen(back.text).userMessages).toBe(3);
  });

  it('a takeover while a burst is collected: the agent answers none of it, later lines included', async () => {
    const c = h.conversation('burst');
    const calls = responseRequests(h.emulator).length;
    const first = await c.signal('I want to complain');
    const second = await c.signal('about my room');
    await takeOver(c); // the burst is still being collected (1.5 s quiet)
    const third = await c.signal('it is dirty');
    await expect
      .poll(
        async () =>
          (
            await h.db.pool.query(
              'SELECT count(*)::int AS n FROM inbound_messages WHERE conversation_id = $1 AND answered_at IS NOT NULL',
              [c.workflowId],
            )
          ).rows[0].n,
        { timeout: 15_000 },
      )
      .toBe(3);
    const { rows } = await h.db.pool.query<{ message_id: string; in_human_mode: boolean }>(
      'SELECT message_id, in_human_mode FROM inbound_messages WHERE conversation_id = $1 ORDER BY message_id',
      [c.workflowId],
    );
    expect(rows).toEqual(
      [first, second, third].sort().map((message_id) => ({ message_id, in_human_mode: true })),
    );
    expect(responseRequests(h.emulator).length).toBe(calls);
    expect(sent.filter((s) => s.conversationId === c.workflowId)).toEqual([]);
    await recordHistory('v5-takeover-during-burst', c.handle);
  });

  it('a close ends human mode: the customer who writes again meets the agent', async () => {
    const c = h.conversation('chain');
    await c.send('Hello');
    await takeOver(c);
    await c.handle.signal(closeSignal);
    await expect
      .poll(async () => (await c.handle.describe()).status.name, { timeout: 15_000 })
      .toBe('COMPLETED');
    const { rows } = await h.db.pool.query('SELECT human_mode FROM conversations WHERE id = $1', [
      c.workflowId,
    ]);
    expect(rows[0]).toEqual({ human_mode: false });
    expect(await c.send('Back again')).toMatchObject({ status: 'answered' });
    expect((await items(c.workflowId)).filter((i) => i.item_key.includes('/op/'))).toEqual([]);
  });
});
