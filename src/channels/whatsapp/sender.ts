import { ApplicationFailure } from '@temporalio/common';
import type { ChannelSender } from '../../activities/delivery.js';

export interface WhatsAppSenderOptions {
  /** e.g. https://graph.facebook.com/v23.0; tests point it at a local fake. */
  baseUrl: string;
  phoneNumberId: string;
  accessToken: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Replies through the Cloud API's send-message call. The API takes no idempotency key, so "once"
 * rests on the deliveries ledger: a retry after an acknowledged send never gets here.
 */
export function createWhatsAppSender(options: WhatsAppSenderOptions): ChannelSender {
  const doFetch = options.fetch ?? fetch;
  return {
    async send(reply) {
      const res = await doFetch(`${options.baseUrl}/${encodeURIComponent(options.phoneNumberId)}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          messaging_product: 'whatsapp',
          recipient_type: 'individual',
          to: reply.externalId,
          type: 'text',
          text: { preview_url: false, body: reply.text },
        }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      const body = (await res.json().catch(() => null)) as {
        messages?: { id?: string }[];
        error?: { message?: string; code?: number };
      } | null;
      if (!res.ok) throw sendFailure('WhatsApp', res.status, body?.error?.message);
      return body?.messages?.[0]?.id ?? null;
    },
  };
}

/**
 * A failed send, for the delivery activity's retry policy: rate limits, timeouts and server errors
 * are retried; other 4xx (a bad token, an unknown recipient) will not get better and fail at once.
 */
export function sendFailure(provider: string, status: number, detail: string | undefined): Error {
  const message = `${provider} answered ${status}${detail ? `: ${detail.slice(0, 200)}` : ''}`;
  const retryable = status === 408 || status === 409 || status === 429 || status >= 500;
  return retryable
    ? ApplicationFailure.retryable(message, 'ChannelSendFailed')
    : ApplicationFailure.nonRetryable(message, 'ChannelSendRejected');
}
