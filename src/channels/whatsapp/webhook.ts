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
import { rememberInbound, routeNumber } from './numbers.js';
import { parseWebhook, webhookBody } from './payload.js';
import { applyStatuses, parseStatuses } from './statuses.js';
import { recordReaction } from './reactions.js';
import { startReEngagement } from './reEngagement.js';

export interface WhatsAppWebhookDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  agent: string;
  bodyLimitBytes: number;
  config: WhatsAppConfig;
  onEvent?: (
    kind: 'message' | 'duplicate' | 'status' | 'unsupported' | 'reaction' | 'unknown_number',
  ) => void;
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
        'message type goes to the conversation `whatsapp/{from}` of the tenant that owns ' +
        '`metadata.phone_number_id` (WHATSAPP_NUMBERS, or WHATSAPP_TENANT) and gets an answer (docs/api.md ' +
        'maps each type to what the model receives); a number not listed is acknowledged and ignored; ' +
        'reactions are recorded and not answered; `statuses` (sent, delivered, read, failed) update the ' +
        'delivery ledger by provider message id. A provider message id seen before is not signalled again.',
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
      let ignored = parsed.statuses;
      for (const m of parsed.messages) {
        const route = routeNumber(deps.config, m.phoneNumberId);
        if (route.kind === 'unknown') {
          // Acknowledged (Meta would retry a non-200 for days), never routed to a default tenant.
          ignored += 1;
          deps.onEvent?.('unknown_number');
          res.locals.log?.warn(
            { phoneNumberId: route.phoneNumberId?.slice(0, 64), providerMessageId: m.id },
            'whatsapp message for a number this deployment does not list: ignored',
          );
          continue;
        }
        const tenant = route.kind === 'number' ? route.number.tenant : route.tenant;
        const agent = (route.kind === 'number' ? route.number.agent : undefined) ?? deps.agent;
        if (await seenBefore(deps.pool, CHANNEL, m.id)) {
          duplicates += 1;
          deps.onEvent?.('duplicate');
          continue;
        }
        if (m.phoneNumberId)
          await rememberInbound(deps.pool, {
            conversationId: conversationWorkflowId({ tenant, channel: CHANNEL, externalId: m.from }),
            tenant,
            phoneNumberId: m.phoneNumberId,
            sentAt: m.sentAt,
          });
        const workflowId = await signalMessage(
          deps,
          { tenant, channel: CHANNEL, externalId: m.from, agent },
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
        const route = routeNumber(deps.config, r.phoneNumberId);
        if (route.kind === 'unknown') {
          ignored += 1;
          deps.onEvent?.('unknown_number');
          continue;
        }
        const tenant = route.kind === 'number' ? route.number.tenant : route.tenant;
        const conversationId = conversationWorkflowId({ tenant, channel: CHANNEL, externalId: r.from });
        const fresh = await recordReaction(deps.pool, {
          tenant,
          channel: CHANNEL,
          conversationId,
          reaction: r,
        });
        if (fresh) received += 1;
        else duplicates += 1;
        deps.onEvent?.(fresh ? 'reaction' : 'duplicate');
      }
      for (let i = 0; i < parsed.statuses; i++) deps.onEvent?.('status');
      await applyWebhookStatuses(deps, body, res.locals.log);
      res.status(200).json({ received, duplicates, ignored });
    },
    [express.raw({ type: () => true, limit: deps.bodyLimitBytes })],
  );
}

/**
 * Statuses update the ledger rows of the tenant that owns the number they came for; statuses for a
 * number this deployment does not list are ignored like its messages.
 */
async function applyWebhookStatuses(
  deps: WhatsAppWebhookDeps,
  body: z.output<typeof webhookBody>,
  log: { info(o: object, m: string): void } | undefined,
): Promise<void> {
  for (const entry of body.entry)
    for (const change of entry.changes) {
      const updates = parseStatuses(change.value.statuses);
      if (updates.length === 0) continue;
      const phoneNumberId = change.value.metadata?.phone_number_id;
      const route = routeNumber(deps.config, phoneNumberId);
      if (route.kind === 'unknown' || !phoneNumberId) continue;
      const tenant = route.kind === 'number' ? route.number.tenant : route.tenant;
      const outcome = await applyStatuses(deps.pool, { tenant, phoneNumberId }, updates);
      // Before the 200: if Temporal cannot take it, Meta's redelivery finds the refusal again.
      await startReEngagement(deps, outcome.refusals);
      if (outcome.unknown || outcome.stale)
        log?.info(
          { applied: outcome.applied, stale: outcome.stale, unknown: outcome.unknown, phoneNumberId },
          'whatsapp statuses for unknown messages or out of order: kept the furthest',
        );
    }
}

/** JSON.parse with the API's error for malformed bodies. */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_request_error', 'The body is not valid JSON.', 'invalid_json');
  }
}
