import express from 'express';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { WebhookConfig } from '../../config.js';
import { ApiError, notFoundError, unauthorized } from '../../api/errors.js';
import { resolveAgent, type Routing } from '../../agents/routing.js';
import type { Routes } from '../../api/route.js';
import { messageBody, signalMessage } from '../../api/routes/messages.js';
import { pathId } from '../../api/schemas.js';
import type { Pool } from '../../store/pool.js';
import { remember, seenBefore } from '../dedupe.js';
import { verifyPayloadSignature } from '../signature.js';
import { parseJson } from '../whatsapp/webhook.js';

export interface SignedWebhookDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  /** Which agent answers a new conversation of each channel; `agent` in the body may choose another. */
  routing: Routing;
  bodyLimitBytes: number;
  config: WebhookConfig;
  now?: () => number;
}

const inbound = messageBody
  .extend({
    id: pathId.describe('The provider message id: a redelivery with the same id is not answered twice'),
    conversationId: pathId.describe("The conversation's id in the channel"),
  })
  .meta({ id: 'WebhookMessage' });

/**
 * A signed webhook for any channel named in WEBHOOK_CHANNELS (SMS gateways, chat widgets, your own
 * backend): HMAC-SHA256 over "{timestamp}.{raw body}" with WEBHOOK_SECRET, a replay window of
 * WEBHOOK_TOLERANCE_SECONDS, and the provider message id for dedupe.
 */
export function signedWebhookRoutes(routes: Routes, deps: SignedWebhookDeps): void {
  const now = deps.now ?? Date.now;
  routes.add(
    {
      method: 'post',
      path: '/v1/webhooks/{channel}',
      operationId: 'signedWebhook',
      tag: 'Channels',
      summary: 'A signed inbound message for a configured channel',
      access: 'signature',
      params: z.object({ channel: pathId }),
      body: inbound,
      rawBody: true,
      headers: {
        'X-Threadline-Timestamp': 'Unix seconds when the request was signed',
        'X-Threadline-Signature': 'v1=<hex HMAC-SHA256 of "{timestamp}.{raw body}">',
      },
      responses: {
        200: {
          description: 'A duplicate of a message already accepted',
          schema: z.object({ status: z.literal('duplicate'), messageId: z.string() }),
        },
        202: {
          description: 'Accepted',
          schema: z.object({ status: z.literal('accepted'), messageId: z.string(), workflowId: z.string() }),
        },
      },
    },
    async ({ params }, req, res) => {
      if (!deps.config.channels.includes(params.channel))
        throw notFoundError(`No signed webhook for channel ${params.channel}.`, 'unknown_channel');
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const header = (name: string) => {
        const v = req.headers[name];
        return typeof v === 'string' ? v : undefined;
      };
      const verdict = verifyPayloadSignature({
        rawBody: raw,
        timestamp: header('x-threadline-timestamp'),
        signature: header('x-threadline-signature'),
        secret: deps.config.secret,
        nowMs: now(),
        toleranceSeconds: deps.config.toleranceSeconds,
      });
      if (verdict !== 'ok') {
        const [message, code] = (
          {
            missing: ['Missing X-Threadline-Timestamp or X-Threadline-Signature.', 'missing_signature'],
            invalid: ['Invalid X-Threadline-Signature.', 'invalid_signature'],
            expired: ['X-Threadline-Timestamp is outside the replay window.', 'timestamp_out_of_window'],
          } satisfies Record<string, [string, string]>
        )[verdict];
        throw unauthorized(message, code);
      }
      const body = inbound.parse(parseJson(raw));
      if (await seenBefore(deps.pool, params.channel, body.id)) {
        res.status(200).json({ status: 'duplicate', messageId: body.id });
        return;
      }
      const routed = resolveAgent(
        { tenant: deps.config.tenant, channel: params.channel, requested: body.agent },
        deps.routing,
      );
      if (!routed.ok)
        throw new ApiError(
          403,
          'permission_error',
          `agent "${body.agent}" is not available to this tenant: use one of ${routed.allowed.join(', ')}, or omit agent.`,
          'agent_not_allowed',
          'agent',
        );
      const workflowId = await signalMessage(
        deps,
        {
          tenant: deps.config.tenant,
          channel: params.channel,
          externalId: body.conversationId,
          agent: routed.agent,
        },
        {
          id: body.id,
          text: body.text,
          receivedAt: new Date(now()).toISOString(),
          ...(body.user ? { user: body.user } : {}),
          ...(body.metadata ? { metadata: body.metadata } : {}),
        },
      );
      await remember(deps.pool, params.channel, body.id, workflowId);
      res.locals.log?.info({ workflowId, providerMessageId: body.id }, 'webhook message signalled');
      res.status(202).json({ status: 'accepted', messageId: body.id, workflowId });
    },
    [express.raw({ type: () => true, limit: deps.bodyLimitBytes })],
  );
}
