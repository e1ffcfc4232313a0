import { ApplicationFailure } from '@temporalio/common';
import { senderKey } from '../channels/senders.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { loadTurnReplyText } from '../store/transcript.js';
import { parseConversationWorkflowId } from '../workflows/ids.js';

/** Sends a reply out through a channel (WhatsApp Cloud API, a signed callback, ...). */
export interface ChannelSender {
  /** Returns the provider's message id. Must pass `idempotencyKey` on where the provider accepts one. */
  send(reply: {
    conversationId: string;
    externalId: string;
    text: string;
    idempotencyKey: string;
  }): Promise<string | null>;
}

export interface DeliveryDeps {
  pool: Pool;
  /** Outbound senders keyed by `senderKey(tenant, channel)`: a channel belongs to one tenant. */
  senders: ReadonlyMap<string, ChannelSender>;
  /** Where a possible duplicate is reported (ids and counts only, never the text). */
  log?: { warn(message: string, attributes: Record<string, unknown>): void };
}

export interface DeliverReplyInput {
  conversationId: string;
  externalId: string;
  channel: string;
  turn: number;
}

/** The activity attempt, and how long its claim on the send lasts (its start-to-close timeout). */
export interface DeliveryAttempt {
  attempt: number;
  leaseMs: number;
}

export interface DeliverReplyResult {
  status: 'sent' | 'already_sent' | 'no_sender' | 'nothing_to_send';
}

/** What an attempt does with the ledger row it found (locked) for its turn. */
export type ClaimDecision =
  | 'already_sent'
  /** Nobody sent, or the last send was refused by the provider: send. */
  | 'claim'
  /** An earlier attempt claimed the send and vanished (or its send's fate is unknown): it may have sent. */
  | 'claim_after_expired_claim'
  /** Another attempt holds a live claim: it may be sending right now. */
  | 'wait';

export function decideClaim(row: { status: string; leaseLive: boolean } | undefined): ClaimDecision {
  if (!row) return 'claim';
  if (row.status === 'sent') return 'already_sent';
  if (row.status === 'sending') return row.leaseLive ? 'wait' : 'claim_after_expired_claim';
  return 'claim';
}

/**
 * Sends a turn's reply once, as far as a crash allows. The ledger row per (conversation, turn) is
 * the memory: before `send` an attempt claims it ('sending', its attempt number, a lease), after
 * `send` it marks it 'sent'. A retry that finds 'sent' does nothing; one that finds a live claim
 * waits (a retryable failure); one that finds a claim run out knows the earlier attempt may have
 * sent, sends again under the same idempotency key and counts a possible duplicate. So: exactly
 * once where the provider honours the key, at most one duplicate per crash window otherwise.
 * The sender is the conversation's own tenant's: a channel owned by another tenant has none here.
 */
export async function deliverReply(
  deps: DeliveryDeps,
  input: DeliverReplyInput,
  attempt: DeliveryAttempt,
): Promise<DeliverReplyResult> {
  const key = parseConversationWorkflowId(input.conversationId);
  if (!key)
    throw ApplicationFailure.nonRetryable(
      `conversationId must be a conversation workflow id (conversation:{tenant}:{channel}:{id}), got ${input.conversationId.slice(0, 100)}`,
      'InvalidConversationId',
    );
  const sender = deps.senders.get(senderKey(key.tenant, input.channel));
  if (!sender) return recordWithoutSend(deps.pool, input, key.tenant, 'no_sender');
  // The reply is read from the transcript, not passed in: it stays out of workflow history.
  const text = await loadTurnReplyText(deps.pool, input.conversationId, input.turn);
  if (text === null) return recordWithoutSend(deps.pool, input, key.tenant, 'nothing_to_send');

  const decision = await claim(deps.pool, input, key.tenant, attempt);
  if (decision === 'already_sent') return { status: 'already_sent' };
  if (decision === 'wait')
    throw ApplicationFailure.create({
      message: `turn ${input.turn} is being sent by another attempt; retrying after its claim runs out`,
      type: 'DeliveryInProgress',
      nonRetryable: false,
    });
  if (decision === 'claim_after_expired_claim')
    deps.log?.warn('delivery: possible duplicate, an earlier attempt may have sent this reply', {
      conversationId: input.conversationId,
      channel: input.channel,
      turn: input.turn,
      attempt: attempt.attempt,
    });

  let providerMessageId: string | null;
  try {
    providerMessageId = await sender.send({
      conversationId: input.conversationId,
      externalId: input.externalId,
      text,
      idempotencyKey: `${input.conversationId}/${input.turn}`,
    });
  } catch (err) {
    await release(deps.pool, input, attempt, err);
    throw err;
  }
  await withTransaction(deps.pool, (tx) =>
    tx.query(
      `UPDATE deliveries SET status = 'sent', provider_message_id = $3, error = NULL, lease_until = NULL,
         history = history || jsonb_build_array(jsonb_build_object('attempt', $4::int, 'at', now(), 'outcome', 'sent')),
         updated_at = now()
       WHERE conversation_id = $1 AND turn = $2`,
      [input.conversationId, input.turn, providerMessageId, attempt.attempt],
    ),
  );
  return { status: 'sent' };
}

/** Claims the send atomically (row lock): at most one attempt holds a live claim. */
async function claim(
  pool: Pool,
  input: DeliverReplyInput,
  tenant: string,
  attempt: DeliveryAttempt,
): Promise<ClaimDecision> {
  return withTransaction(pool, async (tx) => {
    await tx.query(
      `INSERT INTO deliveries (conversation_id, turn, channel, tenant, status, attempts)
       VALUES ($1, $2, $3, $4, 'pending', 0) ON CONFLICT (conversation_id, turn) DO NOTHING`,
      [input.conversationId, input.turn, input.channel, tenant],
    );
    const { rows } = await tx.query<{ status: string; lease_live: boolean | null }>(
      `SELECT status, lease_until > now() AS lease_live FROM deliveries
        WHERE conversation_id = $1 AND turn = $2 FOR UPDATE`,
      [input.conversationId, input.turn],
    );
    const row = rows[0];
    const decision = decideClaim(row && { status: row.status, leaseLive: row.lease_live === true });
    if (decision === 'already_sent' || decision === 'wait') {
      await tx.query(
        `UPDATE deliveries SET attempts = attempts + 1, updated_at = now() WHERE conversation_id = $1 AND turn = $2`,
        [input.conversationId, input.turn],
      );
      return decision;
    }
    const outcome = decision === 'claim' ? 'claimed' : 'claimed_after_expired_claim';
    await tx.query(
      `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_attempt = $3,
         lease_until = now() + make_interval(secs => $4::double precision / 1000),
         possible_duplicates = possible_duplicates + $5,
         history = history || jsonb_build_array(jsonb_build_object('attempt', $3::int, 'at', now(), 'outcome', $6::text)),
         updated_at = now()
       WHERE conversation_id = $1 AND turn = $2`,
      [
        input.conversationId,
        input.turn,
        attempt.attempt,
        attempt.leaseMs,
        decision === 'claim' ? 0 : 1,
        outcome,
      ],
    );
    return decision;
  });
}

/**
 * After a failed send. The provider answered with an error status: nothing was sent, so the claim
 * goes back to 'pending'. No answer at all (a timeout, a cut connection): the message may have
 * arrived, so the row stays 'sending' with its lease ended, and the retry counts a possible duplicate.
 */
async function release(pool: Pool, input: DeliverReplyInput, attempt: DeliveryAttempt, err: unknown) {
  const answered =
    err instanceof ApplicationFailure && /^Channel(SendFailed|SendRejected)$/.test(err.type ?? '');
  const message = err instanceof Error ? err.message : String(err);
  await pool.query(
    `UPDATE deliveries SET status = $3, error = $4, lease_until = now(),
       history = history || jsonb_build_array(jsonb_build_object('attempt', $5::int, 'at', now(), 'outcome', $6::text)),
       updated_at = now()
     WHERE conversation_id = $1 AND turn = $2 AND lease_attempt = $5`,
    [
      input.conversationId,
      input.turn,
      answered ? 'pending' : 'sending',
      message.slice(0, 500),
      attempt.attempt,
      answered ? 'refused' : 'unknown',
    ],
  );
}

/** A turn that is not sent (no sender for the channel, no reply text): recorded, once per attempt. */
async function recordWithoutSend(
  pool: Pool,
  input: DeliverReplyInput,
  tenant: string,
  status: 'no_sender' | 'nothing_to_send',
): Promise<DeliverReplyResult> {
  const { rows } = await pool.query<{ status: string }>(
    `INSERT INTO deliveries (conversation_id, turn, channel, tenant, status, attempts)
     VALUES ($1, $2, $3, $4, $5, 1)
     ON CONFLICT (conversation_id, turn) DO UPDATE SET attempts = deliveries.attempts + 1, updated_at = now()
     RETURNING status`,
    [input.conversationId, input.turn, input.channel, tenant, status],
  );
  return rows[0]?.status === 'sent' ? { status: 'already_sent' } : { status };
}
