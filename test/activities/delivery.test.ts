import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decideClaim,
  deliverReply,
  type ChannelSender,
  type DeliveryDeps,
} from '../../src/activities/delivery.js';
import { senderKey } from '../../src/channels/senders.js';
import { sendFailure } from '../../src/channels/whatsapp/sender.js';
import { formatSnapshot, readSnapshot } from '../../src/metrics/postgres.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { createTestDatabase, type TestDatabase } from '../support/env.js';

/**
 * The delivery activity against a real PostgreSQL: an attempt claims the send before it happens, so
 * a retry knows when an earlier attempt may have sent (the worker died inside `send`) and a live
 * claim makes a concurrent attempt wait instead of sending a second time.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

/** A channel whose `send` records the call, then does what the test says: answer, hang, or throw. */
function recordingSender() {
  const sends: { idempotencyKey: string; externalId: string }[] = [];
  let next: 'answer' | 'hang' | Error = 'answer';
  const sender: ChannelSender = {
    async send(reply) {
      sends.push({ idempotencyKey: reply.idempotencyKey, externalId: reply.externalId });
      const mode = next;
      if (mode === 'hang') return new Promise<string>(() => {}); // a worker that died mid-send
      if (mode instanceof Error) throw mode;
      return `wamid.${sends.length}`;
    },
  };
  return { sender, sends, then: (mode: typeof next) => (next = mode) };
}

async function conversationWithReply(tenant = 'acme', channel = 'whatsapp') {
  const externalId = `+39${Math.floor(Math.random() * 1e9)}`;
  const conversationId = conversationWorkflowId({ tenant, channel, externalId });
  await db.pool.query(
    `INSERT INTO session_items (session_id, seq, item, type, role, turn)
     VALUES ($1, 1, $2, 'message', 'assistant', 1)`,
    [
      conversationId,
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Secret reply text' }] },
    ],
  );
  return { conversationId, externalId, channel, turn: 1 };
}

const ledger = async (conversationId: string) =>
  (
    await db.pool.query(
      `SELECT status, attempts, possible_duplicates, provider_message_id, lease_attempt, history
         FROM deliveries WHERE conversation_id = $1`,
      [conversationId],
    )
  ).rows[0];

function deps(sender: ChannelSender, warnings: { message: string; attrs: object }[] = []): DeliveryDeps {
  return {
    pool: db.pool,
    senders: new Map([[senderKey('acme', 'whatsapp'), sender]]),
    log: { warn: (message, attrs) => warnings.push({ message, attrs }) },
  };
}

describe('decideClaim', () => {
  it.each([
    [undefined, 'claim'],
    [{ status: 'pending', leaseLive: false }, 'claim'],
    [{ status: 'sent', leaseLive: false }, 'already_sent'],
    [{ status: 'sent', leaseLive: true }, 'already_sent'],
    [{ status: 'sending', leaseLive: true }, 'wait'],
    [{ status: 'sending', leaseLive: false }, 'claim_after_expired_claim'],
    [{ status: 'no_sender', leaseLive: false }, 'claim'],
  ] as const)('%j -> %s', (row, decision) => expect(decideClaim(row)).toBe(decision));
});

describe('deliverReply', () => {
  it('a retry while another attempt holds a live claim waits (retryable failure) and does not send', async () => {
    const ch = recordingSender();
    const input = await conversationWithReply();
    ch.then('hang');
    void deliverReply(deps(ch.sender), input, { attempt: 1, leaseMs: 60_000 });
    await expect.poll(() => ch.sends.length).toBe(1);

    ch.then('answer');
    await expect(deliverReply(deps(ch.sender), input, { attempt: 2, leaseMs: 60_000 })).rejects.toMatchObject(
      {
        type: 'DeliveryInProgress',
        nonRetryable: false,
      },
    );
    expect(ch.sends).toHaveLength(1);
    expect(await ledger(input.conversationId)).toMatchObject({
      status: 'sending',
      lease_attempt: 1,
      possible_duplicates: 0,
    });
  });

  it('after a claim ran out (the worker died inside send) the retry sends again and counts the possible duplicate', async () => {
    const ch = recordingSender();
    const warnings: { message: string; attrs: object }[] = [];
    const input = await conversationWithReply();
    ch.then('hang');
    void deliverReply(deps(ch.sender, warnings), input, { attempt: 1, leaseMs: 300 });
    await expect.poll(() => ch.sends.length).toBe(1);
    await expect
      .poll(
        async () =>
          (
            await db.pool.query(
              'SELECT lease_until < now() AS over FROM deliveries WHERE conversation_id = $1',
              [input.conversationId],
            )
          ).rows[0]?.over,
      )
      .toBe(true);

    ch.then('answer');
    expect(await deliverReply(deps(ch.sender, warnings), input, { attempt: 2, leaseMs: 300 })).toEqual({
      status: 'sent',
    });
    // Sent twice under one idempotency key: a provider that honours it delivers once.
    expect(ch.sends.map((s) => s.idempotencyKey)).toEqual([
      `${input.conversationId}/1`,
      `${input.conversationId}/1`,
    ]);
    const row = await ledger(input.conversationId);
    expect(row).toMatchObject({
      status: 'sent',
      attempts: 2,
      possible_duplicates: 1,
      provider_message_id: 'wamid.2',
    });
    expect(row.history.map((h: { attempt: number; outcome: string }) => [h.attempt, h.outcome])).toEqual([
      [1, 'claimed'],
      [2, 'claimed_after_expired_claim'],
      [2, 'sent'],
    ]);
    // Visible to operators: the log (ids only, never the text) and the metric.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/possible duplicate/);
    expect(JSON.stringify(warnings)).not.toContain('Secret reply text');
    const metrics = formatSnapshot(await readSnapshot(db.pool));
    expect(metrics).toMatch(/threadline_delivery_possible_duplicates_total\{channel="whatsapp"\} [1-9]/);

    // Once sent, later retries do nothing.
    expect(await deliverReply(deps(ch.sender), input, { attempt: 3, leaseMs: 300 })).toEqual({
      status: 'already_sent',
    });
    expect(ch.sends).toHaveLength(2);
  });

  it('a send the provider answered with an error is retried without a duplicate; one that timed out may have arrived and counts', async () => {
    const refused = recordingSender();
    const a = await conversationWithReply();
    refused.then(sendFailure('WhatsApp', 503, undefined));
    await expect(deliverReply(deps(refused.sender), a, { attempt: 1, leaseMs: 60_000 })).rejects.toThrow(
      /503/,
    );
    refused.then('answer');
    expect(await deliverReply(deps(refused.sender), a, { attempt: 2, leaseMs: 60_000 })).toEqual({
      status: 'sent',
    });
    expect(await ledger(a.conversationId)).toMatchObject({ status: 'sent', possible_duplicates: 0 });

    const timedOut = recordingSender();
    const b = await conversationWithReply();
    timedOut.then(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    await expect(deliverReply(deps(timedOut.sender), b, { attempt: 1, leaseMs: 60_000 })).rejects.toThrow(
      /timeout/,
    );
    timedOut.then('answer');
    expect(await deliverReply(deps(timedOut.sender), b, { attempt: 2, leaseMs: 60_000 })).toEqual({
      status: 'sent',
    });
    expect(await ledger(b.conversationId)).toMatchObject({ status: 'sent', possible_duplicates: 1 });
  });

  it("uses only the conversation's own tenant's sender", async () => {
    const ch = recordingSender();
    const other = await conversationWithReply('intruder', 'whatsapp');
    expect(await deliverReply(deps(ch.sender), other, { attempt: 1, leaseMs: 60_000 })).toEqual({
      status: 'no_sender',
    });
    expect(ch.sends).toHaveLength(0);
  });

  it('a conversation id that is not a workflow id is an error, not a send', async () => {
    const ch = recordingSender();
    await expect(
      deliverReply(
        deps(ch.sender),
        { conversationId: randomUUID(), externalId: 'x', channel: 'whatsapp', turn: 1 },
        {
          attempt: 1,
          leaseMs: 1_000,
        },
      ),
    ).rejects.toMatchObject({ nonRetryable: true });
    expect(ch.sends).toHaveLength(0);
  });
});
