import type { ChannelSender } from '../../activities/delivery.js';
import { signPayload } from '../signature.js';
import { sendFailure } from '../whatsapp/sender.js';

export interface CallbackSenderOptions {
  url: string;
  secret: string;
  channel: string;
  timeoutMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

/**
 * Replies for a generic channel: a POST to CALLBACK_URL signed like inbound webhooks (timestamp +
 * HMAC), with `Idempotency-Key: {workflowId}/{turn}` so the receiver can drop a repeat if a send is
 * retried after it was processed but before the ledger heard back.
 */
export function createCallbackSender(options: CallbackSenderOptions): ChannelSender {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  return {
    async send(reply) {
      const body = JSON.stringify({
        channel: options.channel,
        conversationId: reply.externalId,
        workflowId: reply.conversationId,
        text: reply.text,
        // A channel action rides along; `text` is its fallback for receivers that show text only.
        ...(reply.action ? { action: reply.action } : {}),
      });
      const timestamp = Math.floor(now() / 1000);
      const res = await doFetch(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': reply.idempotencyKey,
          'x-threadline-timestamp': String(timestamp),
          'x-threadline-signature': signPayload(options.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      const answer = (await res.json().catch(() => null)) as { id?: unknown } | null;
      if (!res.ok) throw sendFailure('The callback URL', res.status, undefined);
      return typeof answer?.id === 'string' ? answer.id : null;
    },
  };
}
