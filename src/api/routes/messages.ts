import { randomUUID } from 'node:crypto';
import {
  ApplicationFailure,
  isGrpcDeadlineError,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
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
import { AdmissionTimeout, type Admission } from '../admission.js';
import { neverTaken, untilTaken } from '../untakenUpdates.js';
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
  /** How long `?wait=true` waits for the conversation to take the message (default 30 s). */
  acceptWaitMs?: number;
  /** Channels with an integration belong to its tenant (WHATSAPP_TENANT, WEBHOOK_TENANT). */
  channels?: ChannelsConfig;
  /** `?wait=true` messages are handed over in arrival order, so many at a time (src/api/admission.ts). */
  admission?: Admission;
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

/** What `sendAndWait` may be told besides the message. */
export interface SendOptions {
  /** How long a run that is ending gets to end before the message is tried once more. */
  endWaitMs?: number;
  /** How long the conversation gets to take (accept) the message before a 503. */
  acceptWaitMs?: number;
  /** Called once the conversation has taken the message: from then on it will be answered. */
  onAccepted?: () => void;
}

export const DEFAULT_ACCEPT_WAIT_MS = 30_000;

/**
 * update-with-start, and the reply. The message counts as taken only once the workflow has accepted
 * the update: an update that no worker accepted in time (an overloaded or absent worker) is not
 * durable, so the caller gets a 503 and retries with the same message id, which is answered once.
 * A run that is ending refuses the update (it would be queued into a run that never answers it):
 * wait for that run to end, then update-with-start once more, which starts a new run that answers.
 * Refused again, the caller gets a 503 with Retry-After.
 */
export async function sendAndWait(
  deps: Pick<MessagesDeps, 'client' | 'taskQueue' | 'admission'>,
  input: ConversationInput,
  message: InboundMessage,
  options: SendOptions = {},
): Promise<TurnReply> {
  const { endWaitMs = 10_000, acceptWaitMs = DEFAULT_ACCEPT_WAIT_MS, onAccepted } = options;
  const workflowId = conversationWorkflowId(input);
  const attempt = async () => {
    // The wait for a turn to hand it over counts in the accept wait: nothing is sent until then.
    const deadline = Date.now() + acceptWaitMs;
    const release = await (deps.admission?.enter(deadline) ?? Promise.resolve(() => {})).catch(
      (err: unknown) => {
        throw err instanceof AdmissionTimeout ? notTaken() : err;
      },
    );
    const handle = await handOver(deadline, release);
    // A refusal (the run is closing) or the server's rejection comes back as the update's outcome:
    // the SDK gives a handle whose result() fails at once, before any poll. Not taken, so the
    // caller is not told it was (a 202 would promise a reply that never comes).
    const result = handle.result();
    const atOnce = await Promise.race([
      result.then(
        () => null,
        (err: unknown) => err,
      ),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 0)),
    ]);
    if (atOnce !== null && (neverTaken(atOnce) || refusedAsClosing(atOnce))) throw atOnce;
    onAccepted?.();
    return result;
  };
  /**
   * `release` frees the hand-over slot when the server answers or the accept wait runs out,
   * whichever comes first: a late update may still be accepted (so the queue can briefly exceed
   * its limit), but a conversation that never takes its messages cannot hold a slot for longer.
   */
  const handOver = async (deadline: number, release: () => void) => {
    const started = deps.client.workflow.startUpdateWithStart(sendMessageUpdate, {
      args: [message],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
      startWorkflowOperation: new WithStartWorkflowOperation<typeof conversationWorkflow>(
        'conversationWorkflow',
        { workflowId, taskQueue: deps.taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' },
      ),
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>(
      (resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()))),
    );
    let handle;
    try {
      handle = await Promise.race([started, late]);
    } catch (err) {
      throw rpcTimedOut(err) ? notTaken() : err;
    } finally {
      clearTimeout(timer);
      release();
    }
    if (handle === 'late') {
      // Still waiting: if it is accepted after all, the caller's retry (same id) is a duplicate.
      started.catch(() => {});
      throw notTaken();
    }
    return handle;
  };
  // An update the server did not take (aborted with its task, or rejected unprocessed): again.
  const taken = () => untilTaken(attempt, notTaken);
  try {
    return await taken();
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
    return await taken();
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

function notTaken(): ApiError {
  return new ApiError(
    503,
    'server_error',
    'The conversation did not take the message in time (the service is busy); retry after the Retry-After delay with the same id: a message id is answered once.',
    'message_not_taken',
    null,
    { 'retry-after': '1' },
  );
}

/** The client gave up waiting on the server (its RPC deadline), not an answer about the message. */
export function rpcTimedOut(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err);
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

      // The reply wait runs from the request; a 202 is given only for a message the conversation
      // has taken (accepted), else the caller must retry and hears so.
      let accepted = false;
      let taken: () => void = () => {};
      const acceptance = new Promise<void>((resolve) => (taken = resolve));
      const reply = sendAndWait(deps, input, message, {
        acceptWaitMs: deps.acceptWaitMs ?? DEFAULT_ACCEPT_WAIT_MS,
        onAccepted: () => {
          accepted = true;
          taken();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), deps.replyWaitMs);
      });
      let result: TurnReply | 'timeout';
      try {
        result = await Promise.race([
          reply,
          waited.then(async (t) => {
            await Promise.race([acceptance, reply]); // a 202 only once taken; sendAndWait bounds this
            return t;
          }),
        ]);
      } catch (err) {
        // Taken, then the wait for its reply ran past the client's deadline: it will be answered.
        if (!(accepted && rpcTimedOut(err))) throw err;
        result = 'timeout';
      } finally {
        clearTimeout(timer);
      }
      if (result === 'timeout') {
        // Taken; the caller finds the reply through the links.
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
