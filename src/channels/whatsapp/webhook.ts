import express from 'express';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { WhatsAppConfig } from '../../config.js';
import { ApiError, forbidden, unauthorized } from '../../api/errors.js';
import type { Routes } from '../../api/route.js';
import { signalMessage } from '../../api/routes/messages.js';
import type { Pool } from '../../store/pool.js';
import { conversationWorkflowId } from '../../workflows/ids.js';
import { MAX_MESSAGE_TEXT } from '../../workflows/messages.js';
import { remember, seenBefore } from '../dedupe.js';
import { verifyHubSignature } from '../signature.js';
import { secretsEqual } from '../../api/apiKeys.js';
import { parseWebhook, webhookBody } from './payload.js';
import { recordReaction } from './reactions.js';

export interface WhatsAppWebhookDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  agent: string;
  bodyLimitBytes: number;
  config: WhatsAppConfig;
  onEvent?: (kind: 'message' | 'duplicate' | 'status' | 'unsupported' | 'reaction') => void;
}

export const CHANNEL = 'whatsapp';

/**
 * The WhatsApp Cloud API webhook. Meta delivers at least once and out of order, and wants a 200
 * quickly: each text message is signalled (a few milliseconds, durable once Temporal has it) and
 * the answer is 200; the turn runs later in the workflow. A 500 (Temporal unreachable) makes Meta
 * retry, and the provider message id keeps retries from being answered twice.
 */
export function whatsappRoutes(routes: Routes, deps: WhatsAppWebhookDeps): void {
  const path = '/v1/webhooks/whatsapp';
  routes.add(
    {
      method: 'get',
      path,
      operationId: 'whatsappVerify',
      tag: 'Channels',
      summary: 'WhatsApp webhook verification handshake',
      description: 'Answers `hub.challenge` when `hub.verify_token` matches WHATSAPP_VERIFY_TOKEN.',
      access: 'none',
      query: z.object({
        'hub.mode': z.literal('subscribe'),
        'hub.verify_token': z.string().max(512),
        'hub.challenge': z.string().min(1).max(512),
      }),
      responses: { 200: { description: 'The challenge, as plain text', contentType: 'text/plain' } },
    },
    ({ query }, _req, res) => {
      if (!secretsEqual(query['hub.verify_token'], deps.config.verifyToken))
        throw forbidden('The verify token does not match.', 'invalid_verify_token');
      res.status(200).type('text/plain').send(query['hub.challenge']);
    },
  );

  routes.add(
    {
      method: 'post',
      path,
      operationId: 'whatsappWebhook',
      tag: 'Channels',
      summary: 'WhatsApp Cloud API notifications',
      description:
        'Verified with X-Hub-Signature-256 (HMAC-SHA256 of the raw body with WHATSAPP_APP_SECRET). Every ' +
        'message type goes to the conversation `whatsapp/{from}` of WHATSAPP_TENANT and gets an answer ' +
        '(docs/api.md maps each type to what the model receives); reactions are recorded and not answered; ' +
        'statuses are acknowledged; a provider message id seen before is not signalled again.',
      access: 'signature',
      headers: { 'X-Hub-Signature-256': 'sha256=<hex HMAC-SHA256 of the raw body>' },
      responses: {
        200: {
          description: 'Received',
          schema: z.object({
            received: z.number().int(),
            duplicates: z.number().int(),
            ignored: z.number().int(),
          }),
        },
      },
    },
    async (_input, req, res) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const header = req.headers['x-hub-signature-256'];
      const verdict = verifyHubSignature(
        raw,
        typeof header === 'string' ? header : undefined,
        deps.config.appSecret,
      );
      if (verdict !== 'ok')
        throw unauthorized(
          verdict === 'missing' ? 'Missing X-Hub-Signature-256.' : 'Invalid X-Hub-Signature-256.',
          verdict === 'missing' ? 'missing_signature' : 'invalid_signature',
        );
      const body = webhookBody.parse(parseJson(raw));
      const parsed = parseWebhook(body);
      let received = 0;
      let duplicates = 0;
      for (const m of parsed.messages) {
        if (await seenBefore(deps.pool, CHANNEL, m.id)) {
          duplicates += 1;
          deps.onEvent?.('duplicate');
          continue;
        }
        const workflowId = await signalMessage(
          deps,
          { tenant: deps.config.tenant, channel: CHANNEL, externalId: m.from, agent: deps.agent },
          {
            id: m.id,
            text: m.text.slice(0, MAX_MESSAGE_TEXT),
            user: m.from,
            receivedAt: new Date().toISOString(),
            metadata: {
              ...m.metadata,
              ...(m.name ? { name: m.name.slice(0, 512) } : {}),
              ...(m.sentAt ? { sentAt: m.sentAt } : {}),
            },
            ...(m.attachment ? { attachments: [m.attachment] } : {}),
          },
        );
        await remember(deps.pool, CHANNEL, m.id, workflowId);
        received += 1;
        deps.onEvent?.(m.attachment?.kind === 'unsupported' ? 'unsupported' : 'message');
        res.locals.log?.info(
          { workflowId, providerMessageId: m.id, type: m.type },
          'whatsapp message signalled',
        );
      }
      for (const r of parsed.reactions) {
        // Recorded with the conversation, never a turn: a reaction asks for no answer.
        const conversationId = conversationWorkflowId({
          tenant: deps.config.tenant,
          channel: CHANNEL,
          externalId: r.from,
        });
        const fresh = await recordReaction(deps.pool, {
          tenant: deps.config.tenant,
          channel: CHANNEL,
          conversationId,
          reaction: r,
        });
        if (fresh) received += 1;
        else duplicates += 1;
        deps.onEvent?.(fresh ? 'reaction' : 'duplicate');
      }
      for (let i = 0; i < parsed.statuses; i++) deps.onEvent?.('status');
      res.status(200).json({ received, duplicates, ignored: parsed.statuses });
    },
    [express.raw({ type: () => true, limit: deps.bodyLimitBytes })],
  );
}

/** JSON.parse with the API's error for malformed bodies. */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_request_error', 'The body is not valid JSON.', 'invalid_json');
  }
}
