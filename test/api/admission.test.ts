import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { AdmissionTimeout, createAdmission } from '../../src/api/admission.js';
import { ApiError } from '../../src/api/errors.js';
import { sendAndWait } from '../../src/api/routes/messages.js';
import type { TurnReply } from '../../src/workflows/messages.js';

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const farOff = () => Date.now() + 60_000;

describe('the hand-over queue', () => {
  it('admits at most its limit at a time, the rest in arrival order', async () => {
    const admission = createAdmission(2);
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const entered = [1, 2, 3, 4, 5].map((n) =>
      admission.enter(farOff()).then((release) => {
        order.push(n);
        releases[n] = release;
      }),
    );
    await later(5);
    expect(order).toEqual([1, 2]);
    expect(admission.load).toEqual({ handing: 2, waiting: 3 });
    releases[2]!();
    releases[2]!(); // a second release frees nothing more
    await later(5);
    expect(order).toEqual([1, 2, 3]);
    releases[1]!();
    releases[3]!();
    await Promise.all(entered);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(admission.load).toEqual({ handing: 2, waiting: 0 });
  });

  it('gives up on a waiter whose deadline passes, and the queue moves on without it', async () => {
    const admission = createAdmission(1);
    const first = await admission.enter(farOff());
    const impatient = admission.enter(Date.now() + 20);
    const patient = admission.enter(farOff());
    await expect(impatient).rejects.toBeInstanceOf(AdmissionTimeout);
    expect(admission.load).toEqual({ handing: 1, waiting: 1 });
    first();
    await expect(patient).resolves.toBeTypeOf('function');
  });

  it('with limit 0 queues nothing', async () => {
    const admission = createAdmission(0);
    await Promise.all(Array.from({ length: 100 }, () => admission.enter(farOff())));
    expect(admission.load).toEqual({ handing: 0, waiting: 0 });
  });
});

describe('sendAndWait through the queue', () => {
  const input = { tenant: 't', channel: 'web', externalId: 'e1', agent: 'a' };
  const message = (id: string) => ({ id, text: id, receivedAt: new Date(0).toISOString() });
  const reply = (id: string): TurnReply => ({
    messageId: id,
    status: 'answered',
    turn: 1,
    text: id,
    responseId: null,
  });

  /** Each update is accepted after `acceptMs`; its turn ends `turnMs` later. */
  function slowClient(acceptMs: number, turnMs: number) {
    const sent: string[] = [];
    const client = {
      workflow: {
        startUpdateWithStart: async (_u: unknown, options: { args: [{ id: string }] }) => {
          const id = options.args[0].id;
          sent.push(id);
          await later(acceptMs);
          return { result: () => later(turnMs).then(() => reply(id)) };
        },
      },
    } as unknown as Client;
    return { client, sent };
  }

  it('holds a slot until the message is accepted, not for its turn', async () => {
    const { client, sent } = slowClient(30, 2_000);
    const deps = { client, taskQueue: 'q', admission: createAdmission(1) };
    const started = Date.now();
    const replies = Promise.all(['a', 'b', 'c'].map((id) => sendAndWait(deps, input, message(id))));
    await later(150);
    // All three handed over one after the other within ~90 ms, while the first turn still runs.
    expect(sent).toEqual(['a', 'b', 'c']);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await replies).map((r) => r.messageId)).toEqual(['a', 'b', 'c']);
  });

  it('a message that waits past the accept wait gets 503 message_not_taken and was never sent', async () => {
    const { client, sent } = slowClient(400, 0);
    const deps = { client, taskQueue: 'q', admission: createAdmission(1) };
    const first = sendAndWait(deps, input, message('a'), { acceptWaitMs: 1_000 });
    const second = sendAndWait(deps, input, message('b'), { acceptWaitMs: 100 }).catch((e: unknown) => e);
    expect(await second).toBeInstanceOf(ApiError);
    expect(await second).toMatchObject({ status: 503, code: 'message_not_taken' });
    await expect(first).resolves.toMatchObject({ messageId: 'a' });
    expect(sent).toEqual(['a']);
  });
});
