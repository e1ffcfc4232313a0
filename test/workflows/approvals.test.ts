import { tool } from '@openai/agents';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Approvals, DECISIONS_KEPT, notRunOutput } from '../../src/workflows/approvals.js';
import {
  APPROVAL_ALREADY_DECIDED,
  APPROVAL_NOT_FOUND,
  closeSignal,
  decideApprovalUpdate,
  resetSignal,
  type DecideApprovalInput,
} from '../../src/workflows/messages.js';
import {
  recordHistory,
  responseRequests,
  startHarness,
  testAgent,
  type Harness,
  type TestConversation,
} from './harness.js';

/** Pure rules of the approvals state. */
describe('Approvals (state)', () => {
  const call = (callId: string) => ({
    callId,
    tool: 'refund',
    arguments: '{"amount":5}',
    turn: 1,
    step: 1,
    requestedAt: '2026-12-01T00:00:00.000Z',
    expiresAt: '2026-12-02T00:00:00.000Z',
  });
  const decide = (callId: string, approve = true): DecideApprovalInput => ({
    callId,
    approve,
    operator: ' alice ',
    reason: 'ok',
  });

  it('applies a decision once: a second one is refused, naming who decided', () => {
    const a = new Approvals();
    a.request(call('c1'));
    expect(a.decide(decide('c1'), 'T1')).toMatchObject({ outcome: 'approved', operator: 'alice' });
    expect(() => a.validate(decide('c1', false))).toThrow(/already decided: approved by alice at T1/);
    expect(a.list()).toEqual([]);
  });

  it('refuses an unknown call id and lists the waiting ones', () => {
    const a = new Approvals();
    a.request(call('c1'));
    expect(() => a.validate(decide('nope'))).toThrow(/No tool call nope is waiting .*\(waiting: c1\)/);
    expect(() => new Approvals().validate(decide('nope'))).toThrow(/none is waiting/);
  });

  it('keeps its decisions across continue-as-new, bounded', () => {
    const a = new Approvals();
    for (let i = 0; i < DECISIONS_KEPT + 5; i++) {
      a.request(call(`c${i}`));
      a.settle(`c${i}`, 'expired', null, 'late', 'T');
    }
    const b = new Approvals(JSON.parse(JSON.stringify(a.carry())));
    expect(a.carry().decided).toHaveLength(DECISIONS_KEPT);
    expect(b.decisionFor(`c${DECISIONS_KEPT + 4}`)?.outcome).toBe('expired');
    expect(b.decisionFor('c0')).toBeUndefined();
    // An old carried state (no approvals) still loads.
    expect(new Approvals(undefined).list()).toEqual([]);
  });

  it('tells the model why a call did not run', () => {
    expect(notRunOutput({ outcome: 'rejected', reason: 'too big', operator: 'bob' })).toBe(
      'The operator rejected this call: too big. It was not run.',
    );
    expect(notRunOutput({ outcome: 'expired', reason: 'no decision within 24 h', operator: null })).toMatch(
      /in time \(no decision within 24 h\)/,
    );
    expect(() => notRunOutput({ outcome: 'approved', reason: null, operator: 'a' })).toThrow();
  });
});

const refunds: { amount: number; key: string }[] = [];
function refundTools(
  needsApproval: boolean | ((ctx: unknown, args: { amount: number }) => Promise<boolean>),
) {
  return [
    tool({
      name: 'refund',
      description: 'Refunds an amount.',
      parameters: z.object({ amount: z.number() }),
      strict: true,
      needsApproval,
      execute: async ({ amount }, rc) => {
        refunds.push({ amount, key: (rc?.context as { idempotencyKey: string }).idempotencyKey });
        return JSON.stringify({ refunded: amount });
      },
    }),
  ];
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    agents: [
      testAgent('approve', { tools: refundTools(true) }),
      testAgent('approve-can', { tools: refundTools(true), continueAsNewAfterTurns: 1 }),
      testAgent('approve-fast', {
        tools: refundTools(true),
        toolPolicies: { refund: { approvalTimeoutMs: 1_500 } },
      }),
      // A function of the arguments: only large refunds need a person.
      testAgent('approve-large', { tools: refundTools(async (_ctx, args) => args.amount > 100) }),
    ],
  });
});
afterAll(async () => h?.close());

async function pendingCall(c: TestConversation): Promise<string> {
  await expect.poll(async () => (await c.state()).pendingApprovals?.length ?? 0, { timeout: 15_000 }).toBe(1);
  return (await c.state()).pendingApprovals![0]!.callId;
}

async function decideOn(c: TestConversation, input: DecideApprovalInput, updateId?: string) {
  return c.handle.executeUpdate(decideApprovalUpdate, { args: [input], ...(updateId ? { updateId } : {}) });
}

async function lastReply(workflowId: string): Promise<string> {
  const { rows } = await h.db.pool.query<{ item: { content: { text: string }[] } }>(
    `SELECT item FROM session_items WHERE session_id = $1 AND role = 'assistant' ORDER BY seq DESC LIMIT 1`,
    [workflowId],
  );
  return rows[0]?.item.content.map((p) => p.text).join('') ?? '';
}

async function failureType(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as { type?: string } | undefined)?.type;
}

async function approvalRow(workflowId: string, callId: string) {
  const { rows } = await h.db.pool.query(
    'SELECT status, decided_by, reason, arguments, tool FROM tool_approvals WHERE conversation_id = $1 AND call_id = $2',
    [workflowId, callId],
  );
  return rows[0] as Record<string, unknown> | undefined;
}

describe('tool approvals', () => {
  it('holds a needsApproval call until an operator approves, then runs it once', async () => {
    const c = h.conversation('approve');
    await c.signal('call refund {"amount": 40}');
    const callId = await pendingCall(c);
    const state = await c.state();
    expect(state.status).toBe('awaiting_approval');
    expect(state.pendingApprovals![0]).toMatchObject({ tool: 'refund', arguments: '{"amount":40}', turn: 1 });
    expect(await approvalRow(c.workflowId, callId)).toMatchObject({ status: 'pending', tool: 'refund' });
    expect(refunds.filter((r) => r.key.startsWith(c.workflowId))).toEqual([]);

    expect(await failureType(decideOn(c, { callId: 'call_unknown', approve: true, operator: 'alice' }))).toBe(
      APPROVAL_NOT_FOUND,
    );
    // The same update retried (same update id) is one decision; the tool runs once.
    const decided = await decideOn(
      c,
      { callId, approve: true, operator: 'alice', reason: 'fine' },
      `a-${callId}`,
    );
    const again = await decideOn(
      c,
      { callId, approve: true, operator: 'alice', reason: 'fine' },
      `a-${callId}`,
    );
    expect(again).toEqual(decided);
    expect(decided).toMatchObject({ outcome: 'approved', operator: 'alice', reason: 'fine' });
    await expect
      .poll(() => lastReply(c.workflowId), { timeout: 15_000 })
      .toMatch(/refund -> \{"refunded":40\}/);
    // A second decision from anyone else is refused with who decided.
    expect(await failureType(decideOn(c, { callId, approve: false, operator: 'bob' }))).toBe(
      APPROVAL_ALREADY_DECIDED,
    );
    expect(refunds.filter((r) => r.key.startsWith(c.workflowId))).toHaveLength(1);
    expect(await approvalRow(c.workflowId, callId)).toMatchObject({
      status: 'approved',
      decided_by: 'alice',
    });
    await expect.poll(async () => (await c.state()).status, { timeout: 10_000 }).toBe('idle');
    await recordHistory('v4-hitl-approval', c.handle);
    await recordHistory('v5-perf2-approval', c.handle);
    await recordHistory('v6-quiet-turns-approval', c.handle);
  });

  it('gives the model the rejection as the tool output, with the reason, and never runs the tool', async () => {
    const c = h.conversation('approve');
    await c.signal('call refund {"amount": 900}');
    const callId = await pendingCall(c);
    await decideOn(c, { callId, approve: false, operator: 'bob', reason: 'over the limit' });
    await expect
      .poll(() => lastReply(c.workflowId), { timeout: 15_000 })
      .toBe('Tool results: refund -> The operator rejected this call: over the limit. It was not run..');
    expect(refunds.filter((r) => r.key.startsWith(c.workflowId))).toEqual([]);
    expect(await approvalRow(c.workflowId, callId)).toMatchObject({
      status: 'rejected',
      decided_by: 'bob',
      reason: 'over the limit',
    });
  });

  it('rejects a call nobody decides on within its timeout', async () => {
    const c = h.conversation('approve-fast');
    await c.signal('call refund {"amount": 3}');
    const callId = await pendingCall(c);
    await expect
      .poll(() => lastReply(c.workflowId), { timeout: 15_000 })
      .toMatch(/No operator approved this call in time \(no decision within 1.5 s\)/);
    expect(await approvalRow(c.workflowId, callId)).toMatchObject({ status: 'expired', decided_by: null });
    expect(await failureType(decideOn(c, { callId, approve: true, operator: 'late' }))).toBe(
      APPROVAL_ALREADY_DECIDED,
    );
  });

  it('asks a needsApproval function with the arguments: small calls run at once', async () => {
    const c = h.conversation('approve-large');
    const reply = await c.send('call refund {"amount": 5}');
    expect(reply.text).toMatch(/refund -> \{"refunded":5\}/);
    await c.signal('call refund {"amount": 500}');
    const callId = await pendingCall(c);
    await decideOn(c, { callId, approve: true, operator: 'alice' });
    await expect.poll(() => lastReply(c.workflowId), { timeout: 15_000 }).toMatch(/"refunded":500/);
  });

  it('queues messages that arrive while a call waits and answers them in the next turn', async () => {
    const c = h.conversation('approve');
    await c.signal('call refund {"amount": 7}');
    const callId = await pendingCall(c);
    await c.signal('Are you still there?');
    await expect.poll(async () => (await c.state()).inboxLength, { timeout: 10_000 }).toBe(1);
    await decideOn(c, { callId, approve: true, operator: 'alice' });
    await expect
      .poll(() => lastReply(c.workflowId), { timeout: 15_000 })
      .toMatch(/^You said: "Are you still there\?"/);
    await expect.poll(async () => (await c.state()).turns, { timeout: 10_000 }).toBe(2);
  });

  it('cancels a pending call when the conversation is closed; the turn still replies', async () => {
    const c = h.conversation('approve');
    await c.signal('call refund {"amount": 8}');
    const callId = await pendingCall(c);
    await c.handle.signal(closeSignal);
    await expect
      .poll(async () => (await c.handle.describe()).status.name, { timeout: 15_000 })
      .toBe('COMPLETED');
    expect(await lastReply(c.workflowId)).toMatch(
      /not run: the conversation was closed before an operator decided/,
    );
    expect(await approvalRow(c.workflowId, callId)).toMatchObject({ status: 'cancelled' });
  });

  it('cancels a pending call on reset, before the new segment starts', async () => {
    const c = h.conversation('approve');
    await c.signal('call refund {"amount": 9}');
    const callId = await pendingCall(c);
    await c.handle.signal(resetSignal);
    await expect.poll(async () => (await c.state()).segment, { timeout: 15_000 }).toBe(1);
    expect(await approvalRow(c.workflowId, callId)).toMatchObject({ status: 'cancelled' });
    expect(await lastReply(c.workflowId)).toMatch(/the conversation was reset before an operator decided/);
  });

  it('survives a worker restart and continue-as-new: the wait holds, the decision carries over', async () => {
    const c = h.conversation('approve-can');
    await c.signal('call refund {"amount": 11}');
    const callId = await pendingCall(c);
    const firstRun = (await c.handle.describe()).runId;
    await h.restartWorker();
    await c.signal('next one');
    expect((await c.state()).pendingApprovals?.map((p) => p.callId)).toEqual([callId]);
    await decideOn(c, { callId, approve: true, operator: 'alice' });
    // continueAsNewAfterTurns 1: the turn ends, the run continues as new, the queued message is answered.
    await expect
      .poll(() => lastReply(c.workflowId), { timeout: 20_000 })
      .toBe(
        'You said: "next one" [context: 2 user messages; first: "call refund {"amount": 11}"; instructions: yes]',
      );
    expect((await c.handle.describe()).runId).not.toBe(firstRun);
    expect(await failureType(decideOn(c, { callId, approve: false, operator: 'bob' }))).toBe(
      APPROVAL_ALREADY_DECIDED,
    );
    expect(refunds.filter((r) => r.key.startsWith(c.workflowId))).toHaveLength(1);
    // The model got the tool output in the chain: the request after the approval carried it.
    const outputs = responseRequests(h.emulator).filter((r) =>
      (r.input as { type?: string; output?: string }[]).some(
        (i) => i.type === 'function_call_output' && i.output === '{"refunded":11}',
      ),
    );
    expect(outputs.length).toBeGreaterThan(0);
  });
});
