import { randomUUID } from 'node:crypto';
import {
  ApplicationFailure,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { z } from 'zod';
import type { conversationWorkflow, ConversationInput } from '../../workflows/conversation.js';
import { conversationWorkflowId } from '../../workflows/ids.js';
import {
  CONVERSATION_CLOSING,
  MAX_MESSAGE_TEXT,
  messageSignal,
  sendMessageUpdate,
  type InboundMessage,
  type TurnReply,
} from '../../workflows/messages.js';
import { channelOwners } from '../../channels/owners.js';
import type { ChannelsConfig } from '../../config.js';
import { resolveAgent, type Routing } from '../../agents/routing.js';
import { findConversation } from '../conversationStore.js';
import type { Pool } from '../../store/pool.js';
import { tenantOf } from '../auth.js';
import { ApiError, forbidden } from '../errors.js';
import type { Routes } from '../route.js';
import {
  agentName,
  chars,
  cleanText,
  conversationParams,
  errorBody,
  nonBlankText,
  pathId,
  queryFlag,
  utf16Max,
} from '../schemas.js';

export const messageBody = z
  .object({
    id: utf16Max(pathId, 256)
      .optional()
      .describe(
        'Your id for the message; the conversation answers each id once. At most 256 UTF-16 code units.',
      ),
    text: utf16Max(nonBlankText(MAX_MESSAGE_TEXT), MAX_MESSAGE_TEXT).describe(
      `At most ${MAX_MESSAGE_TEXT} UTF-16 code units: a character outside the BMP counts as 2.`,
    ),
    user: cleanText(0, 256).optional(),
    metadata: z
      .record(chars(0, 64), chars(0, 512))
      .refine((m) => Object.keys(m).length <= 16, { message: 'may hold at most 16 pairs' })
      .meta({ maxProperties: 16 })
      .optional(),
    agent: agentName
      .optional()
      .describe(
        'The agent that answers a new conversation, instead of the routed one: one the tenant may use ' +
          '(its routing rules, its allow list, or the default); otherwise 403 `agent_not_allowed`. For an ' +
          'existing conversation it is ignored, with a `note`: the conversation keeps its current agent.',
      ),
  })
  .meta({ id: 'MessageInput' });

const accepted = z
  .object({
    messageId: z.string(),
    workflowId: z.string(),
    status: z.enum(['accepted', 'pending']),
    note: z.string().optional().describe('Why the `agent` field was ignored'),
    links: z.object({ conversation: z.string(), items: z.string(), events: z.string() }),
  })
  .meta({ id: 'MessageAccepted' });

const replied = z
  .object({
    messageId: z.string(),
    workflowId: z.string(),
    note: z.string().optional().describe('Why the `agent` field was ignored'),
    reply: z.object({
      messageId: z.string(),
      status: z
        .enum(['answered', 'failed', 'duplicate', 'human'])
        .describe(
          '`human`: an operator has the conversation; the message is recorded, no agent reply (text null)',
        ),
      turn: z.number().int(),
      text: z.string().nullable(),
      responseId: z.string().nullable(),
    }),
  })
  .meta({ id: 'MessageReplied' });

export interface MessagesDeps {
  client: Client;
  taskQueue: string;
  pool: Pool;
  /** Which agent answers a new conversation. */
  routing: Routing;
  replyWaitMs: number;
  /** Channels with an integration belong to its tenant (WHATSAPP_TENANT, WEBHOOK_TENANT). */
  channels?: ChannelsConfig;
}

/** Hands a message to its conversation: signal-with-start, so the first message creates it. */
export async function signalMessage(
  deps: Pick<MessagesDeps, 'client' | 'taskQueue'>,
  input: ConversationInput,
  message: InboundMessage,
): Promise<string> {
  const workflowId = conversationWorkflowId(input);
  await deps.client.workflow.signalWithStart<typeof conversationWorkflow, [InboundMessage]>(
    'conversationWorkflow',
    { workflowId, taskQueue: deps.taskQueue, args: [input], signal: messageSignal, signalArgs: [message] },
  );
  return workflowId;
}

/**
 * update-with-start, and the reply. A run that is ending refuses the update (it would be queued into
 * a run that never answers it): wait for that run to end, then update-with-start once more, which
 * starts a new run that answers. Refused again, the caller gets a 503 with Retry-After.
 */
export async function sendAndWait(
  deps: Pick<MessagesDeps, 'client' | 'taskQueue'>,
  input: ConversationInput,
  message: InboundMessage,
  endWaitMs = 10_000,
): Promise<TurnReply> {
  const workflowId = conversationWorkflowId(input);
  const attempt = () =>
    deps.client.workflow.executeUpdateWithStart(sendMessageUpdate, {
      args: [message],
      startWorkflowOperation: new WithStartWorkflowOperation<typeof conversationWorkflow>(
        'conversationWorkflow',
        { workflowId, taskQueue: deps.taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' },
      ),
    });
  try {
    return await attempt();
  } catch (err) {
    if (!refusedAsClosing(err)) throw err;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    deps.client.workflow
      .getHandle(workflowId)
      .result()
      .catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, endWaitMs))),
  ]).finally(() => clearTimeout(timer));
  try {
    return await attempt();
  } catch (err) {
    if (!refusedAsClosing(err)) throw err;
    throw new ApiError(
      503,
      'server_error',
      'The conversation is closing; retry the message after the Retry-After delay (a new run answers it).',
      'conversation_closing',
      null,
      { 'retry-after': '1' },
    );
  }
}

function refusedAsClosing(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateFailedError &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === CONVERSATION_CLOSING
  );
}

export function links(channel: string, conversationId: string) {
  const base = `/v1/conversations/${encodeURIComponent(channel)}/${encodeURIComponent(conversationId)}`;
  return { conversation: base, items: `${base}/items`, events: `${base}/events` };
}

const sameConversation = {
  channel: '$request.path.channel',
  conversationId: '$request.path.conversationId',
};
/** A message creates its conversation: these read or change it. */
const conversationLinks = Object.fromEntries(
  ['getConversation', 'listItems', 'conversationUsage', 'resetConversation', 'closeConversation'].map(
    (operationId) => [operationId, { operationId, parameters: sameConversation }],
  ),
);

export function messagesRoutes(routes: Routes, deps: MessagesDeps): void {
  const owners = channelOwners(deps.channels);
  routes.add(
    {
      method: 'post',
      path: '/v1/conversations/{channel}/{conversationId}/messages',
      operationId: 'sendMessage',
      tag: 'Conversations',
      summary: 'Send a user message',
      description:
        'Signals the message to the conversation (created on first use) and answers 202. With `wait=true` ' +
        'it waits for the reply (update-with-start) and answers 200 with it; past the configured wait ' +
        '(REPLY_WAIT_MS) it answers 202 `pending` and the turn still completes: read the reply from `items` or `events`.',
      access: 'key',
      params: conversationParams,
      query: z.object({ wait: queryFlag.describe('Wait for the reply') }),
      body: messageBody,
      responses: {
        200: { description: 'The reply of the turn', schema: replied, links: conversationLinks },
        202: { description: 'Accepted; the reply will follow', schema: accepted, links: conversationLinks },
        403: {
          description:
            'The channel belongs to another tenant, or `agent` names an agent this tenant may not use (`agent_not_allowed`)',
          schema: errorBody,
        },
        503: {
          description:
            'The run was ending and refused the message twice (`conversation_closing`): retry after Retry-After',
          schema: errorBody,
        },
      },
    },
    async ({ params, query, body }, req, res) => {
      const tenant = tenantOf(req, res);
      // The reply goes out from the owner's number or callback: another tenant may not trigger it.
      const owner = owners.get(params.channel);
      if (owner !== undefined && !owner.includes(tenant))
        throw forbidden(
          `The channel ${params.channel} belongs to the tenant ${owner.join(', ')}: only its API keys may send messages to it.`,
          'channel_owned_by_another_tenant',
        );
      const routed = resolveAgent({ tenant, channel: params.channel, requested: body.agent }, deps.routing);
      // Unknown, or another tenant's: the same answer, listing only what this tenant may use.
      if (!routed.ok)
        throw new ApiError(
          403,
          'permission_error',
          `agent "${body.agent}" is not available to this tenant: use one of ${routed.allowed.join(', ')}, or omit agent for the routed one.`,
          'agent_not_allowed',
          'agent',
        );
      const input: ConversationInput = {
        tenant,
        channel: params.channel,
        externalId: params.conversationId,
        agent: routed.agent,
      };
      const workflowId = conversationWorkflowId(input);
      // The field chooses the agent of a new conversation only; an existing one keeps its own.
      const existing = body.agent === undefined ? null : await findConversation(deps.pool, workflowId);
      const note =
        existing && existing.agent !== body.agent
          ? `agent ignored: the conversation exists and is answered by its current agent "${existing.agent}".`
          : undefined;
      const about = note ? { note } : {};
      res.locals.log = res.locals.log?.child({ workflowId });
      const message: InboundMessage = {
        id: body.id ?? randomUUID(),
        text: body.text,
        receivedAt: new Date().toISOString(),
        ...(body.user ? { user: body.user } : {}),
        ...(body.metadata ? { metadata: body.metadata } : {}),
      };
      const where = links(params.channel, params.conversationId);

      if (!query.wait) {
        await signalMessage(deps, input, message);
        res
          .status(202)
          .json({ messageId: message.id, workflowId, status: 'accepted', ...about, links: where });
        return;
      }

      const reply = sendAndWait(deps, input, message);
      const timedOut = Symbol('timeout');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race<TurnReply | typeof timedOut>([
        reply,
        new Promise((resolve) => (timer = setTimeout(() => resolve(timedOut), deps.replyWaitMs))),
      ]).finally(() => clearTimeout(timer));
      if (result === timedOut) {
        // Accepted once the update is admitted; the caller finds the reply through the links.
        reply.catch(() => {});
        res
          .status(202)
          .json({ messageId: message.id, workflowId, status: 'pending', ...about, links: where });
        return;
      }
      res.status(200).json({ messageId: message.id, workflowId, ...about, reply: result });
    },
  );
}
