import { ApplicationFailure } from '@temporalio/common';
import { WINDOW_CLOSED, type ChannelSender, type OutboundMessage } from '../../activities/delivery.js';
import type { Pool } from '../../store/pool.js';
import { messagePayload, readReceiptPayload } from './actions.js';
import { loadWhatsAppConversation, markWindowClosed } from './numbers.js';
import { decideWindow, RE_ENGAGEMENT_ERROR } from './window.js';

export interface WhatsAppSenderOptions {
  /** e.g. https://graph.facebook.com/v23.0; tests point it at a local fake. */
  baseUrl: string;
  /** One number (the old single-number setup) ... */
  phoneNumberId?: string;
  accessToken?: string;
  /** ... or the tenant's numbers, each with its token. */
  numbers?: { phoneNumberId: string; accessToken: string }[];
  /** The tenant this sender sends for (recorded with a 131047 refusal). */
  tenant?: string;
  /** Where the conversation's number and window live; without it: the first number, window open. */
  pool?: Pool;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * Sends through the Cloud API's send-message call, from the number the conversation came in on.
 * The API takes no idempotency key, so "once" rests on the deliveries ledger: a retry after an
 * acknowledged send never gets here. Only the tenant's own numbers are in `numbers`: a
 * conversation can never make another tenant's number send.
 */
export function createWhatsAppSender(options: WhatsAppSenderOptions): ChannelSender {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const numbers =
    options.numbers ??
    (options.phoneNumberId && options.accessToken
      ? [{ phoneNumberId: options.phoneNumberId, accessToken: options.accessToken }]
      : []);
  if (numbers.length === 0) throw new Error('createWhatsAppSender needs at least one number with its token');

  /** The conversation's number: the one it came in on, or the tenant's only number. */
  async function numberFor(conversationId: string) {
    const known = options.pool ? await loadWhatsAppConversation(options.pool, conversationId) : undefined;
    if (known) {
      const number = numbers.find((n) => n.phoneNumberId === known.phoneNumberId);
      if (!number)
        throw ApplicationFailure.nonRetryable(
          `the conversation came in on WhatsApp number ${known.phoneNumberId}, which has no access token for this tenant`,
          'ChannelSendRejected',
        );
      return number;
    }
    if (numbers.length === 1) return numbers[0]!;
    throw ApplicationFailure.nonRetryable(
      'the conversation never came in through the WhatsApp webhook and its tenant has several numbers: no number to send from',
      'ChannelSendRejected',
    );
  }

  async function post(number: { phoneNumberId: string; accessToken: string }, body: unknown) {
    const res = await doFetch(`${options.baseUrl}/${encodeURIComponent(number.phoneNumberId)}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${number.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const answer = (await res.json().catch(() => null)) as {
      messages?: { id?: string }[];
      error?: { message?: string; code?: number };
    } | null;
    return { res, answer };
  }

  return {
    async send(message: OutboundMessage) {
      const number = await numberFor(message.conversationId);
      const { res, answer } = await post(
        number,
        messagePayload(message.externalId, message.action ?? { text: message.text }),
      );
      if (!res.ok) {
        if (answer?.error?.code === RE_ENGAGEMENT_ERROR) {
          if (options.pool)
            await markWindowClosed(options.pool, {
              conversationId: message.conversationId,
              tenant: options.tenant ?? '',
              phoneNumberId: number.phoneNumberId,
            });
          throw ApplicationFailure.nonRetryable(
            `outside the 24-hour customer service window: WhatsApp refused the message with ${RE_ENGAGEMENT_ERROR} (Re-engagement message)`,
            WINDOW_CLOSED,
          );
        }
        throw sendFailure('WhatsApp', res.status, answer?.error?.message, answer?.error?.code);
      }
      return answer?.messages?.[0]?.id ?? null;
    },

    async window(conversationId) {
      const known = options.pool ? await loadWhatsAppConversation(options.pool, conversationId) : undefined;
      return decideWindow({
        lastInboundAt: known?.lastInboundAt ?? null,
        windowClosedAt: known?.windowClosedAt ?? null,
        now: new Date(now()),
      });
    },

    async markRead(conversationId, messageId) {
      // Only messages that came through Meta have an id it knows (API messages have their own ids).
      if (!messageId.startsWith('wamid.')) return;
      const number = await numberFor(conversationId);
      const { res } = await post(number, readReceiptPayload(messageId));
      if (!res.ok) throw sendFailure('WhatsApp', res.status, undefined);
    },
  };
}

/**
 * A failed send, for the delivery activity's retry policy: rate limits, timeouts and server errors
 * are retried; other 4xx (a bad token, an unknown recipient) will not get better and fail at once.
 */
export function sendFailure(
  provider: string,
  status: number,
  detail: string | undefined,
  code?: number,
): Error {
  const message = `${provider} answered ${status}${code !== undefined ? ` (error ${code})` : ''}${detail ? `: ${detail.slice(0, 200)}` : ''}`;
  const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
  return retryable
    ? ApplicationFailure.retryable(message, 'ChannelSendFailed')
    : ApplicationFailure.nonRetryable(message, 'ChannelSendRejected');
}
