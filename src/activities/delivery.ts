import { ApplicationFailure } from '@temporalio/common';
import { fallbackText, loadTurnActions, type ChannelAction, type TemplateSpec } from '../channels/actions.js';
import { senderKey } from '../channels/senders.js';
import type { WindowState } from '../channels/whatsapp/window.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { loadTurnReplyText } from '../store/transcript.js';
import { parseConversationWorkflowId } from '../workflows/ids.js';

/** One message out: a turn's text, or a channel action with its text fallback. */
export interface OutboundMessage {
  conversationId: string;
  externalId: string;
  /** The text, or for an action its fallback text (channels that carry text only send this). */
  text: string;
  idempotencyKey: string;
  /** Set for a channel action; a sender that cannot carry its type sends `text` (or passes it on). */
  action?: ChannelAction;
}

/**
 * Sends a reply out through a channel (WhatsApp Cloud API, a signed callback, ...). `window` and
 * `markRead` are optional capabilities: only channels with a customer service window or read
 * receipts have them.
 */
export interface ChannelSender {
  /** Returns the provider's message id. Must pass `idempotencyKey` on where the provider accepts one. */
  send(message: OutboundMessage): Promise<string | null>;
  /** Whether free-form messages may go out now (WhatsApp's 24-hour window); templates always may. */
  window?(conversationId: string): Promise<WindowState>;
  /** Marks an inbound message read and shows the typing indicator; best effort. */
  markRead?(conversationId: string, messageId: string): Promise<void>;
}

export interface DeliveryDeps {
  pool: Pool;
  /** Outbound senders keyed by `senderKey(tenant, channel)`: a channel belongs to one tenant. */
  senders: ReadonlyMap<string, ChannelSender>;
  /** Where a possible duplicate is reported (ids and counts only, never the text). */
  log?: { warn(message: string, attributes: Record<string, unknown>): void };
  /** The template the conversation's agent sends outside a customer service window, if it has one. */
  templateFor?: (conversationId: string) => Promise<TemplateSpec | undefined>;
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
  /**
   * sent: at least one message went out in this attempt; already_sent: an earlier attempt sent
   * them all; blocked: nothing may go out (outside the customer service window, no template).
   */
  status: 'sent' | 'already_sent' | 'blocked' | 'no_sender' | 'nothing_to_send';
}

/** What an attempt does with the ledger row it found (locked) for its message. */
export type ClaimDecision =
  | 'already_sent'
  /** Settled without a send: blocked (window) or refused for good. Never retried. */
  | 'settled'
  /** Nobody sent, or the last send was refused by the provider: send. */
  | 'claim'
  /** An earlier attempt claimed the send and vanished (or its send's fate is unknown): it may have sent. */
  | 'claim_after_expired_claim'
  /** Another attempt holds a live claim: it may be sending right now. */
  | 'wait';

export function decideClaim(row: { status: string; leaseLive: boolean } | undefined): ClaimDecision {
  if (!row) return 'claim';
  if (row.status === 'sent') return 'already_sent';
  if (row.status === 'blocked' || row.status === 'failed') return 'settled';
  if (row.status === 'sending') return row.leaseLive ? 'wait' : 'claim_after_expired_claim';
  return 'claim';
}

/** One ledger row: a message of a turn (or of anything else with a number, e.g. an operator reply). */
export interface DeliveryPart {
  conversationId: string;
  externalId: string;
  channel: string;
  tenant: string;
  turn: number;
  /** 'text', 'action/{id}', 'template', or a caller's own name: unique within the turn. */
  part: string;
  message: OutboundMessage;
}

/** The failure type a sender throws when the provider refuses a message as outside the window. */
export const WINDOW_CLOSED = 'ChannelWindowClosed';

/**
 * Sends a turn's output once, as far as a crash allows: its channel actions in the order the
 * tools emitted them, then its text, each its own ledger row (`part`). Before each `send` an
 * attempt claims the row ('sending', its attempt number, a lease), after it marks it 'sent' with
 * the provider's message id. A retry skips what is sent; one that finds a live claim waits (a
 * retryable failure); one that finds a claim run out knows the earlier attempt may have sent,
 * sends again under the same idempotency key and counts a possible duplicate. So: exactly once
 * where the provider honours the key, at most one duplicate per crash window otherwise.
 *
 * Outside the channel's customer service window (WhatsApp: 24 hours after the customer's last
 * message, or once Meta refused a message with 131047) free-form messages are recorded 'blocked'
 * with the reason and never retried; the agent's template, when it has one, goes out once instead.
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
  // The reply and the actions are read from Postgres, not passed in: they stay out of workflow history.
  const [text, actions] = await Promise.all([
    loadTurnReplyText(deps.pool, input.conversationId, input.turn),
    loadTurnActions(deps.pool, input.conversationId, input.turn),
  ]);
  const base = { conversationId: input.conversationId, externalId: input.externalId };
  const parts: DeliveryPart[] = [
    ...actions.map((a) => ({
      ...input,
      tenant: key.tenant,
      part: `action/${a.id}`,
      message: {
        ...base,
        text: fallbackText(a.action),
        idempotencyKey: `${input.conversationId}/${input.turn}/action/${a.id}`,
        action: a.action,
      },
    })),
    ...(text !== null
      ? [
          {
            ...input,
            tenant: key.tenant,
            part: 'text',
            message: { ...base, text, idempotencyKey: `${input.conversationId}/${input.turn}` },
          },
        ]
      : []),
  ];
  const sender = deps.senders.get(senderKey(key.tenant, input.channel));
  if (parts.length === 0) return recordWithoutSend(deps.pool, input, key.tenant, 'text', 'nothing_to_send');
  if (!sender) {
    // API-only channels (web chat): each message is in the ledger, none goes out.
    const results = [];
    for (const p of parts)
      results.push(await recordWithoutSend(deps.pool, input, key.tenant, p.part, 'no_sender'));
    return results.every((r) => r.status === 'already_sent')
      ? { status: 'already_sent' }
      : { status: 'no_sender' };
  }

  let window: WindowState = sender.window ? await sender.window(input.conversationId) : { open: true };
  const outcomes: PartOutcome[] = [];
  let blockedFreeForm = false;
  let rejection: unknown;
  for (const p of parts) {
    const isTemplate = p.message.action?.type === 'template';
    if (!window.open && !isTemplate) {
      outcomes.push(await settle(deps.pool, p, attempt, 'blocked', window.reason));
      blockedFreeForm = true;
      continue;
    }
    try {
      const outcome = await deliverPart(deps, p, attempt);
      outcomes.push(outcome);
      if (outcome === 'blocked') blockedFreeForm = true;
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === WINDOW_CLOSED) {
        // Meta's own refusal (131047): this and every later free-form message are blocked alike.
        window = { open: false, reason: err.message };
        outcomes.push(await settle(deps.pool, p, attempt, 'blocked', window.reason));
        blockedFreeForm = true;
        continue;
      }
      if (err instanceof ApplicationFailure && err.nonRetryable) {
        // Refused for good (a bad media link): recorded, and the turn's other messages still go.
        outcomes.push(await settle(deps.pool, p, attempt, 'failed', err.message));
        rejection ??= err;
        continue;
      }
      throw err;
    }
  }
  if (blockedFreeForm) {
    const template = await deps.templateFor?.(input.conversationId);
    if (template)
      outcomes.push(
        await deliverPart(
          deps,
          {
            ...input,
            tenant: key.tenant,
            part: 'template',
            message: {
              ...base,
              action: { type: 'template', ...template },
              text: fallbackText({ type: 'template', ...template }),
              idempotencyKey: `${input.conversationId}/${input.turn}/template`,
            },
          },
          attempt,
        ),
      );
  }
  if (rejection) throw rejection;
  if (outcomes.includes('sent')) return { status: 'sent' };
  if (outcomes.every((o) => o === 'already_sent')) return { status: 'already_sent' };
  return { status: 'blocked' };
}

type PartOutcome = 'sent' | 'already_sent' | 'blocked' | 'failed';

/**
 * Sends one message once through the ledger (claim, send, mark sent with the provider message id).
 * Throws what the sender throws, after recording it; a row settled earlier is not sent again.
 */
export async function deliverPart(
  deps: Pick<DeliveryDeps, 'pool' | 'senders' | 'log'>,
  p: DeliveryPart,
  attempt: DeliveryAttempt,
): Promise<PartOutcome> {
  const sender = deps.senders.get(senderKey(p.tenant, p.channel));
  if (!sender) throw ApplicationFailure.nonRetryable(`no sender for ${p.channel}`, 'NoSender');
  const decision = await claim(deps.pool, p, attempt);
  if (decision === 'already_sent') return 'already_sent';
  if (decision === 'settled') return (await rowStatus(deps.pool, p)) === 'failed' ? 'failed' : 'blocked';
  if (decision === 'wait')
    throw ApplicationFailure.create({
      message: `turn ${p.turn} (${p.part}) is being sent by another attempt; retrying after its claim runs out`,
      type: 'DeliveryInProgress',
      nonRetryable: false,
    });
  if (decision === 'claim_after_expired_claim')
    deps.log?.warn('delivery: possible duplicate, an earlier attempt may have sent this reply', {
      conversationId: p.conversationId,
      channel: p.channel,
      turn: p.turn,
      part: p.part,
      attempt: attempt.attempt,
    });

  let providerMessageId: string | null;
  try {
    providerMessageId = await sender.send(p.message);
  } catch (err) {
    await release(deps.pool, p, attempt, err);
    throw err;
  }
  await deps.pool.query(
    `UPDATE deliveries SET status = 'sent', provider_message_id = $4, error = NULL, lease_until = NULL,
       history = history || jsonb_build_array(jsonb_build_object('attempt', $5::int, 'at', now(), 'outcome', 'sent')),
       updated_at = now()
     WHERE conversation_id = $1 AND turn = $2 AND part = $3`,
    [p.conversationId, p.turn, p.part, providerMessageId, attempt.attempt],
  );
  return 'sent';
}

/** Claims the send atomically (row lock): at most one attempt holds a live claim. */
async function claim(pool: Pool, p: DeliveryPart, attempt: DeliveryAttempt): Promise<ClaimDecision> {
  return withTransaction(pool, async (tx) => {
    await tx.query(
      `INSERT INTO deliveries (conversation_id, turn, part, channel, tenant, status, attempts)
       VALUES ($1, $2, $3, $4, $5, 'pending', 0) ON CONFLICT (conversation_id, turn, part) DO NOTHING`,
      [p.conversationId, p.turn, p.part, p.channel, p.tenant],
    );
    const { rows } = await tx.query<{ status: string; lease_live: boolean | null }>(
      `SELECT status, lease_until > now() AS lease_live FROM deliveries
        WHERE conversation_id = $1 AND turn = $2 AND part = $3 FOR UPDATE`,
      [p.conversationId, p.turn, p.part],
    );
    const row = rows[0];
    const decision = decideClaim(row && { status: row.status, leaseLive: row.lease_live === true });
    if (decision === 'already_sent' || decision === 'wait' || decision === 'settled') {
      await tx.query(
        `UPDATE deliveries SET attempts = attempts + 1, updated_at = now()
          WHERE conversation_id = $1 AND turn = $2 AND part = $3`,
        [p.conversationId, p.turn, p.part],
      );
      return decision;
    }
    const outcome = decision === 'claim' ? 'claimed' : 'claimed_after_expired_claim';
    await tx.query(
      `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_attempt = $4,
         lease_until = now() + make_interval(secs => $5::double precision / 1000),
         possible_duplicates = possible_duplicates + $6,
         history = history || jsonb_build_array(jsonb_build_object('attempt', $4::int, 'at', now(), 'outcome', $7::text)),
         updated_at = now()
       WHERE conversation_id = $1 AND turn = $2 AND part = $3`,
      [
        p.conversationId,
        p.turn,
        p.part,
        attempt.attempt,
        attempt.leaseMs,
        decision === 'claim' ? 0 : 1,
        outcome,
      ],
    );
    return decision;
  });
}

async function rowStatus(pool: Pool, p: DeliveryPart): Promise<string | undefined> {
  const { rows } = await pool.query<{ status: string }>(
    'SELECT status FROM deliveries WHERE conversation_id = $1 AND turn = $2 AND part = $3',
    [p.conversationId, p.turn, p.part],
  );
  return rows[0]?.status;
}

/**
 * After a failed send. The provider answered with an error status: nothing was sent, so the claim
 * goes back to 'pending'. No answer at all (a timeout, a cut connection): the message may have
 * arrived, so the row stays 'sending' with its lease ended, and the retry counts a possible duplicate.
 */
async function release(pool: Pool, p: DeliveryPart, attempt: DeliveryAttempt, err: unknown) {
  const answered =
    err instanceof ApplicationFailure &&
    /^Channel(SendFailed|SendRejected|WindowClosed)$/.test(err.type ?? '');
  const message = err instanceof Error ? err.message : String(err);
  await pool.query(
    `UPDATE deliveries SET status = $4, error = $5, lease_until = now(),
       history = history || jsonb_build_array(jsonb_build_object('attempt', $6::int, 'at', now(), 'outcome', $7::text)),
       updated_at = now()
     WHERE conversation_id = $1 AND turn = $2 AND part = $3 AND lease_attempt = $6`,
    [
      p.conversationId,
      p.turn,
      p.part,
      answered ? 'pending' : 'sending',
      message.slice(0, 500),
      attempt.attempt,
      answered ? 'refused' : 'unknown',
    ],
  );
}

/**
 * Settles a message without sending it: 'blocked' (outside the window) or 'failed' (refused for
 * good), with the reason. A row already sent stays sent; a settled row is never claimed again.
 */
async function settle(
  pool: Pool,
  p: DeliveryPart,
  attempt: DeliveryAttempt,
  status: 'blocked' | 'failed',
  reason: string,
): Promise<PartOutcome> {
  const { rows } = await pool.query<{ status: string }>(
    `INSERT INTO deliveries (conversation_id, turn, part, channel, tenant, status, attempts, error, history)
     VALUES ($1, $2, $3, $4, $5, $6, 1, $7,
             jsonb_build_array(jsonb_build_object('attempt', $8::int, 'at', now(), 'outcome', $6::text)))
     ON CONFLICT (conversation_id, turn, part) DO UPDATE SET
       status = CASE WHEN deliveries.status = 'sent' THEN deliveries.status ELSE EXCLUDED.status END,
       error = CASE WHEN deliveries.status = 'sent' THEN deliveries.error ELSE EXCLUDED.error END,
       lease_until = NULL,
       history = deliveries.history || EXCLUDED.history,
       updated_at = now()
     RETURNING status`,
    [p.conversationId, p.turn, p.part, p.channel, p.tenant, status, reason.slice(0, 500), attempt.attempt],
  );
  return rows[0]?.status === 'sent' ? 'already_sent' : status;
}

/** A message that is not sent (no sender for the channel, no reply text): recorded, once per attempt. */
async function recordWithoutSend(
  pool: Pool,
  input: DeliverReplyInput,
  tenant: string,
  part: string,
  status: 'no_sender' | 'nothing_to_send',
): Promise<DeliverReplyResult> {
  const { rows } = await pool.query<{ status: string }>(
    `INSERT INTO deliveries (conversation_id, turn, part, channel, tenant, status, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, 1)
     ON CONFLICT (conversation_id, turn, part) DO UPDATE SET attempts = deliveries.attempts + 1, updated_at = now()
     RETURNING status`,
    [input.conversationId, input.turn, part, input.channel, tenant, status],
  );
  return rows[0]?.status === 'sent' ? { status: 'already_sent' } : { status };
}
