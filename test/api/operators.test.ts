import { randomUUID } from 'node:crypto';
import { ServiceError } from '@temporalio/client';
import { tool } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ChannelSender } from '../../src/activities/delivery.js';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry } from '../../src/agents/registry.js';
import { senderKey } from '../../src/channels/senders.js';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';

const sent: { conversationId: string; text: string; idempotencyKey: string }[] = [];
const sender: ChannelSender = {
  async send(reply) {
    sent.push(reply);
    return `m${sent.length}`;
  },
};
let ran = 0;

let env: ApiEnv;
let base: string;
let acme: string;
let globex: string;
beforeAll(async () => {
  env = await startApiEnv({
    senders: new Map([[senderKey('acme', 'web'), sender]]),
    agents: createRegistry([
      defineAgent({
        name: 'assistant',
        model: 'gpt-5-mini',
        instructions: 'Be brief.',
        tools: [
          tool({
            name: 'refund',
            description: 'Refunds an amount.',
            parameters: z.object({ amount: z.number() }),
            strict: true,
            needsApproval: true,
            execute: async ({ amount }) => {
              ran += 1;
              return `refunded ${amount}`;
            },
          }),
        ],
      }),
    ]),
  });
  base = await env.start();
  [acme, globex] = await Promise.all([env.keyFor('acme'), env.keyFor('globex')]);
});
afterAll(() => env?.stop());

const url = (id: string, rest = '') => `${base}/v1/conversations/web/${id}${rest}`;
const send = (id: string, text: string, wait = true) =>
  request('POST', url(id, `/messages${wait ? '?wait=true' : ''}`), acme, { text });

async function pending(id: string): Promise<string> {
  await expect
    .poll(async () => (await json(await request('GET', url(id), acme))).pendingApprovals?.length ?? 0, {
      timeout: 15_000,
    })
    .toBe(1);
  return (await json(await request('GET', url(id), acme))).pendingApprovals[0].callId;
}

describe('tool approvals API', () => {
  it('lists a pending call with its arguments, decides it once, and refuses a second decision', async () => {
    const id = randomUUID();
    expect((await send(id, 'call refund {"amount": 12}', false)).status).toBe(202);
    const callId = await pending(id);
    const view = await json(await request('GET', url(id), acme));
    expect(view.status).toBe('awaiting_approval');
    expect(view.pendingApprovals[0]).toMatchObject({ tool: 'refund', arguments: '{"amount":12}' });
    const list = await json(await request('GET', url(id, '/approvals?status=pending'), acme));
    expect(list.data).toEqual([
      expect.objectContaining({
        object: 'conversation.approval',
        callId,
        status: 'pending',
        decidedBy: null,
      }),
    ]);
    const filtered = await json(await request('GET', `${base}/v1/conversations?pendingApprovals=true`, acme));
    expect(filtered.data.map((c: { conversationId: string }) => c.conversationId)).toContain(id);

    // Another tenant cannot see or decide it.
    expect((await request('GET', url(id, '/approvals'), globex)).status).toBe(404);
    expect(
      (await request('POST', url(id, `/approvals/${callId}`), globex, { approve: true, operator: 'mallory' }))
        .status,
    ).toBe(404);

    const bad = await request('POST', url(id, `/approvals/${callId}`), acme, {
      approve: 'yes',
      operator: 'a',
    });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.param).toBe('approve');
    const unknown = await request('POST', url(id, '/approvals/call_nope'), acme, {
      approve: true,
      operator: 'a',
    });
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error).toMatchObject({ code: 'approval_not_found' });

    const ok = await request('POST', url(id, `/approvals/${callId}`), acme, {
      approve: true,
      operator: 'alice@acme.test',
      reason: 'checked',
    });
    expect(ok.status).toBe(200);
    expect(await json(ok)).toMatchObject({
      outcome: 'approved',
      operator: 'alice@acme.test',
      reason: 'checked',
    });
    const twice = await request('POST', url(id, `/approvals/${callId}`), acme, {
      approve: false,
      operator: 'bob',
    });
    expect(twice.status).toBe(409);
    expect((await json(twice)).error.message).toMatch(/already decided: approved by alice@acme.test/);
    await expect
      .poll(async () => (await json(await request('GET', url(id, '/approvals'), acme))).data[0].status)
      .toBe('approved');
    await expect.poll(() => ran, { timeout: 10_000 }).toBe(1);
  });
});

describe('human takeover API', () => {
  it('takes over, records customer messages without a reply, sends operator replies, and hands back', async () => {
    const id = randomUUID();
    expect((await send(id, 'Hello')).status).toBe(200);
    const before = sent.filter((s) => s.text.length > 0).length;
    const notYet = await request('POST', url(id, '/operator-messages'), acme, {
      operator: 'alice',
      text: 'Hi',
    });
    expect(notYet.status).toBe(409);
    expect((await json(notYet)).error.code).toBe('not_in_human_mode');

    const taken = await request('POST', url(id, '/takeover'), acme, { operator: 'alice', reason: 'VIP' });
    expect(await json(taken)).toMatchObject({ operator: 'alice', reason: 'VIP', by: 'operator' });
    const view = await json(await request('GET', url(id), acme));
    expect(view.humanMode).toMatchObject({ operator: 'alice' });
    const listed = await json(await request('GET', `${base}/v1/conversations?humanMode=true`, acme));
    expect(listed.data.find((c: { conversationId: string }) => c.conversationId === id)?.humanMode).toBe(
      true,
    );

    const quiet = await json(await send(id, 'Anyone?'));
    expect(quiet.reply).toMatchObject({ status: 'human', text: null });
    const blank = await request('POST', url(id, '/operator-messages'), acme, {
      operator: 'alice',
      text: '  ',
    });
    expect(blank.status).toBe(400);
    expect((await json(blank)).error.param).toBe('text');
    const op = await request('POST', url(id, '/operator-messages'), acme, {
      id: 'op-1',
      operator: 'alice',
      text: 'Alice here.',
    });
    expect(await json(op)).toMatchObject({ messageId: 'op-1', status: 'sent', delivery: 'sent' });
    expect(sent.length).toBe(before + 1);
    expect(sent.at(-1)?.text).toBe('Alice here.');

    const items = await json(await request('GET', url(id, '/items?limit=100'), acme));
    const mine = items.data.filter((i: { operator?: string }) => i.operator);
    expect(mine).toEqual([
      expect.objectContaining({
        operator: 'alice',
        item: expect.objectContaining({ role: 'assistant' }),
      }),
    ]);

    expect(await json(await request('POST', url(id, '/handback'), acme, { operator: 'alice' }))).toEqual({
      humanMode: null,
    });
    const back = await json(await send(id, 'And now?'));
    expect(back.reply.status).toBe('answered');
    expect((await json(await request('GET', url(id), acme))).humanMode).toBeNull();
    // A tenant's key reaches only its own conversations.
    expect((await request('POST', url(id, '/takeover'), globex, { operator: 'mallory' })).status).toBe(404);
  });

  it('documents the operator routes in the OpenAPI document', async () => {
    const doc = await json(await request('GET', `${base}/openapi.json`, null));
    for (const path of ['/approvals', '/approvals/{callId}', '/takeover', '/handback', '/operator-messages'])
      expect(Object.keys(doc.paths)).toContain(`/v1/conversations/{channel}/{conversationId}${path}`);
  });
});

describe('an operator update aborted with its workflow task', () => {
  /**
   * The server aborts an update handed to a workflow task that fails (a run's idle-timeout
   * completion refused because a message arrived; see updateAborted.test.ts): never accepted, so the
   * API sends it again rather than answering the operator with a 500.
   */
  const ABORTED = 'Unable to perform workflow execution update due to unexpected workflow task failure.';
  /** The test client, except that the first call of each update is aborted; `calls` names each call. */
  function abortingOnce(calls: string[]) {
    // As the SDK gives it: the server's error itself after update-with-start, wrapped in a
    // ServiceError (the server's error as its cause) after a plain update.
    const withStart = () => Object.assign(new Error(ABORTED), { code: 9 });
    const plain = () => new ServiceError('Workflow Update failed', { cause: withStart() });
    const abortFirst =
      (real: (def: never, options: never) => Promise<unknown>, aborted: () => Error) =>
      (def: { name: string }, options: unknown): Promise<unknown> => {
        const first = !calls.includes(def.name);
        calls.push(def.name);
        return first ? Promise.reject(aborted()) : real(def as never, options as never);
      };
    const workflow = new Proxy(env.client.workflow, {
      get(target, prop, receiver) {
        if (prop === 'executeUpdateWithStart')
          return abortFirst(target.executeUpdateWithStart.bind(target), withStart);
        if (prop === 'getHandle')
          return (id: string) => {
            const handle = target.getHandle(id);
            return Object.assign(Object.create(handle), {
              executeUpdate: abortFirst(handle.executeUpdate.bind(handle), plain),
            });
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    return new Proxy(env.client, {
      get: (target, prop, receiver) => (prop === 'workflow' ? workflow : Reflect.get(target, prop, receiver)),
    });
  }

  it('takes over, replies, hands back and decides an approval as if nothing had happened', async () => {
    const calls: string[] = [];
    const flaky = await env.start({ client: abortingOnce(calls) });
    const at = (id: string, rest: string) => `${flaky}/v1/conversations/web/${id}${rest}`;
    const id = randomUUID();
    expect((await send(id, 'Hello')).status).toBe(200);
    const taken = await request('POST', at(id, '/takeover'), acme, { operator: 'alice' });
    expect(await json(taken)).toMatchObject({ operator: 'alice' });
    const op = await request('POST', at(id, '/operator-messages'), acme, { operator: 'alice', text: 'Hi' });
    expect(await json(op)).toMatchObject({ status: 'sent' });
    expect(sent.at(-1)?.text).toBe('Hi');
    const back = await request('POST', at(id, '/handback'), acme, { operator: 'alice' });
    expect(await json(back)).toEqual({ humanMode: null });

    const other = randomUUID();
    expect((await send(other, 'call refund {"amount": 3}', false)).status).toBe(202);
    const callId = await pending(other);
    const decided = await request('POST', at(other, `/approvals/${callId}`), acme, {
      approve: false,
      operator: 'alice',
    });
    expect(await json(decided)).toMatchObject({ outcome: 'rejected' });
    // Each update was aborted once and sent once more.
    expect(new Set(calls).size).toBe(4);
    expect(calls).toHaveLength(8);
  });
});
