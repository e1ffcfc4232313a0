import { randomUUID } from 'node:crypto';
import {
  ApplicationFailure,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type UpdateDefinition,
} from '@temporalio/client';
import { z } from 'zod';
import { listApprovals } from '../../activities/approvals.js';
import type { Pool } from '../../store/pool.js';
import type { conversationWorkflow, ConversationInput } from '../../workflows/conversation.js';
import {
  APPROVAL_ALREADY_DECIDED,
  APPROVAL_NOT_FOUND,
  CONVERSATION_CLOSING,
  decideApprovalUpdate,
  type DecideApprovalInput,
  handBackUpdate,
  MAX_MESSAGE_TEXT,
  MAX_OPERATOR_NAME,
  MAX_REASON,
  NOT_IN_HUMAN_MODE,
  operatorMessageUpdate,
  takeOverUpdate,
} from '../../workflows/messages.js';
import { untilTaken } from '../untakenUpdates.js';
import { tenantOf } from '../auth.js';
import { ApiError, conflict, notFoundError } from '../errors.js';
import { locateConversation } from '../locateConversation.js';
import type { Routes } from '../route.js';
import { cleanText, conversationParams, errorBody, nonBlankText, pathId, utf16Max } from '../schemas.js';

/**
 * The operator's side of a conversation (docs/approvals-and-takeover.md): tool approvals, human
 * takeover, operator replies. Who acts is the API key's tenant plus the `operator` name the request
 * gives: there are no operator accounts yet, so the name is recorded as given, not verified.
 */

export interface OperatorsDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  agent: string;
}

const operatorName = nonBlankText(MAX_OPERATOR_NAME).describe(
  'Who acts, as recorded in the audit trail (a name or e-mail; not verified: there are no operator accounts yet)',
);
const reasonText = cleanText(0, MAX_REASON);

export const approvalShape = z
  .object({
    object: z.literal('conversation.approval'),
    callId: z.string(),
    tool: z.string(),
    arguments: z.string().describe('The JSON arguments the model gave the tool'),
    turn: z.number().int(),
    status: z.enum(['pending', 'approved', 'rejected', 'expired', 'cancelled']),
    requestedAt: z.string(),
    expiresAt: z.string().nullable().describe('When a pending call is rejected as expired'),
    decidedBy: z.string().nullable(),
    reason: z.string().nullable(),
    decidedAt: z.string().nullable(),
  })
  .meta({ id: 'Approval' });

const decisionShape = z
  .object({
    callId: z.string(),
    tool: z.string(),
    turn: z.number().int(),
    outcome: z.enum(['approved', 'rejected', 'expired', 'cancelled']),
    operator: z.string().nullable(),
    reason: z.string().nullable(),
    decidedAt: z.string(),
  })
  .meta({ id: 'ApprovalDecision' });

export const humanModeShape = z
  .object({
    operator: z.string().describe('The operator, or `tool:<name>` when an escalation tool handed it over'),
    reason: z.string().nullable(),
    since: z.string(),
    by: z.enum(['operator', 'tool']),
  })
  .meta({ id: 'HumanMode' });

const operatorReplyShape = z
  .object({
    messageId: z.string(),
    status: z
      .enum(['sent', 'duplicate'])
      .describe('`duplicate`: this id was sent before; nothing sent again'),
    turn: z.number().int().describe('The turn of the reply; the delivery ledger holds it under this turn'),
    delivery: z.enum([
      'sent',
      'already_sent',
      'no_sender',
      'nothing_to_send',
      'failed',
      'blocked',
      'unknown',
    ]),
  })
  .meta({ id: 'OperatorReply' });

const approvalParams = conversationParams.extend({
  callId: pathId.describe('The function call id (`call_...`) the approval is for'),
});

/** The workflow's refusals, as API errors: the operator learns what is wrong and what to do. */
/** The server aborted the update every time: nothing was applied, the operator retries. */
function notTaken(): ApiError {
  return new ApiError(
    503,
    'server_error',
    'The conversation did not take the request (its workflow task kept failing); nothing was applied: retry after the Retry-After delay.',
    'update_not_taken',
    null,
    { 'retry-after': '1' },
  );
}

const notAppliedResponse = {
  description:
    'Nothing was applied: the run was ending (`conversation_closing`) or the server kept aborting the update with its workflow task (`update_not_taken`); retry after Retry-After',
  schema: errorBody,
};

function fromUpdateFailure(err: unknown): unknown {
  if (!(err instanceof WorkflowUpdateFailedError) || !(err.cause instanceof ApplicationFailure)) return err;
  const { type, message } = err.cause;
  if (type === APPROVAL_NOT_FOUND) return notFoundError(message, 'approval_not_found');
  if (type === APPROVAL_ALREADY_DECIDED) return conflict(message, 'approval_already_decided');
  if (type === NOT_IN_HUMAN_MODE) return conflict(message, 'not_in_human_mode');
  if (type === CONVERSATION_CLOSING)
    return new ApiError(503, 'server_error', message, 'conversation_closing', null, { 'retry-after': '1' });
  return err;
}

export function operatorsRoutes(routes: Routes, deps: OperatorsDeps): void {
  /** The conversation within the caller's tenant; 404 when it has never existed. */
  async function locate(
    req: Parameters<typeof tenantOf>[0],
    res: Parameters<typeof tenantOf>[1],
    p: z.output<typeof conversationParams>,
  ) {
    const tenant = tenantOf(req, res);
    const input: ConversationInput = {
      tenant,
      channel: p.channel,
      externalId: p.conversationId,
      agent: deps.agent,
    };
    const { workflowId, row, run } = await locateConversation(deps, tenant, p.channel, p.conversationId);
    res.locals.log = res.locals.log?.child({ workflowId });
    return { input: row ? { ...input, agent: row.agent } : input, workflowId, run };
  }

  /** update-with-start: a conversation whose run ended (idle) gets a new run that restores it first. */
  function withStart(input: ConversationInput, workflowId: string) {
    return new WithStartWorkflowOperation<typeof conversationWorkflow>('conversationWorkflow', {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  }

  /**
   * An operator's update-with-start, sent again while the server does not take it, its failures
   * mapped to the API's errors.
   */
  function updateWithStart<Ret, Args extends [unknown]>(
    update: UpdateDefinition<Ret, Args>,
    args: Args,
    input: ConversationInput,
    workflowId: string,
  ): Promise<Ret> {
    return untilTaken(
      () =>
        deps.client.workflow.executeUpdateWithStart(update, {
          args,
          startWorkflowOperation: withStart(input, workflowId),
        }),
      notTaken,
    ).catch((err: unknown) => {
      throw fromUpdateFailure(err);
    });
  }

  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/approvals',
      operationId: 'listApprovals',
      tag: 'Operators',
      summary: "The conversation's tool approvals, newest first",
      description:
        'Calls of tools declared with `needsApproval`: pending ones (waiting for `POST .../approvals/{callId}`) ' +
        'and decided ones with who decided and why. At most 200.',
      access: 'key',
      params: conversationParams,
      query: z.object({
        status: z.enum(['pending', 'approved', 'rejected', 'expired', 'cancelled']).optional(),
      }),
      responses: {
        200: {
          description: 'The approvals',
          schema: z
            .object({ object: z.literal('list'), data: z.array(approvalShape) })
            .meta({ id: 'ApprovalList' }),
        },
        404: { description: 'No such conversation', schema: errorBody },
      },
    },
    async ({ params, query }, req, res) => {
      const { workflowId } = await locate(req, res, params);
      const rows = await listApprovals(deps.pool, workflowId, query.status);
      res.json({ object: 'list', data: rows.map((r) => ({ object: 'conversation.approval', ...r })) });
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/conversations/{channel}/{conversationId}/approvals/{callId}',
      operationId: 'decideApproval',
      tag: 'Operators',
      summary: 'Approve or reject a pending tool call',
      description:
        'Approved, the tool runs (once) and the turn goes on; rejected, the model gets "The operator rejected this ' +
        'call: <reason>" as the tool output and explains. A decision is applied once: deciding a call again is ' +
        '409 `approval_already_decided` (naming who decided); an id that is not waiting is 404 `approval_not_found`.',
      access: 'key',
      params: approvalParams,
      body: z
        .object({
          approve: z.boolean().describe('true approves, false rejects'),
          operator: operatorName,
          reason: reasonText.optional().describe('Why; a rejection shows it to the model'),
        })
        .meta({ id: 'ApprovalDecisionInput' }),
      responses: {
        200: { description: 'The decision, as applied', schema: decisionShape },
        404: {
          description: 'No such conversation, or the call is not waiting for approval',
          schema: errorBody,
        },
        409: { description: 'The call was already decided (`approval_already_decided`)', schema: errorBody },
        503: notAppliedResponse,
      },
    },
    async ({ params, body }, req, res) => {
      const { workflowId, run } = await locate(req, res, params);
      if (run !== 'open')
        throw notFoundError(
          `No tool call ${params.callId} is waiting: ${params.channel}/${params.conversationId} has no open run.`,
          'approval_not_found',
        );
      const handle = deps.client.workflow.getHandle<typeof conversationWorkflow>(workflowId);
      const args: [DecideApprovalInput] = [
        {
          callId: params.callId,
          approve: body.approve,
          operator: body.operator,
          ...(body.reason ? { reason: body.reason } : {}),
        },
      ];
      const decision = await untilTaken(
        () => handle.executeUpdate(decideApprovalUpdate, { args }),
        notTaken,
      ).catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError)
          throw notFoundError(`No tool call ${params.callId} is waiting.`, 'approval_not_found');
        throw fromUpdateFailure(err);
      });
      res.locals.log?.info({ callId: params.callId, outcome: decision.outcome }, 'tool approval decided');
      res.json(decision);
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/conversations/{channel}/{conversationId}/takeover',
      operationId: 'takeOverConversation',
      tag: 'Operators',
      summary: 'Put the conversation in human mode',
      description:
        'The agent stops answering from the next turn on (a turn under way finishes and its reply goes out). ' +
        'Customer messages are still recorded (status `human`, no reply); the operator answers with ' +
        '`POST .../operator-messages`. Taking over a conversation already in human mode returns the current takeover.',
      access: 'key',
      params: conversationParams,
      body: z.object({ operator: operatorName, reason: reasonText.optional() }).meta({ id: 'TakeOverInput' }),
      responses: {
        200: { description: 'Human mode', schema: humanModeShape },
        404: { description: 'No such conversation', schema: errorBody },
        503: notAppliedResponse,
      },
    },
    async ({ params, body }, req, res) => {
      const { input, workflowId } = await locate(req, res, params);
      const mode = await updateWithStart(
        takeOverUpdate,
        [{ operator: body.operator, ...(body.reason ? { reason: body.reason } : {}) }],
        input,
        workflowId,
      );
      res.json(mode);
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/conversations/{channel}/{conversationId}/handback',
      operationId: 'handBackConversation',
      tag: 'Operators',
      summary: 'End human mode: the agent answers again',
      description:
        "The agent's next model call includes what was said while a human had the conversation (the customer's " +
        "messages and the operator's replies). Handing back a conversation not in human mode does nothing.",
      access: 'key',
      params: conversationParams,
      body: z.object({ operator: operatorName, note: reasonText.optional() }).meta({ id: 'HandBackInput' }),
      responses: {
        200: {
          description: 'Human mode ended',
          schema: z.object({ humanMode: z.null() }).meta({ id: 'HandedBack' }),
        },
        404: { description: 'No such conversation', schema: errorBody },
        503: notAppliedResponse,
      },
    },
    async ({ params, body }, req, res) => {
      const { input, workflowId } = await locate(req, res, params);
      const result = await updateWithStart(
        handBackUpdate,
        [{ operator: body.operator, ...(body.note ? { note: body.note } : {}) }],
        input,
        workflowId,
      );
      res.json(result);
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/conversations/{channel}/{conversationId}/operator-messages',
      operationId: 'sendOperatorMessage',
      tag: 'Operators',
      summary: "Send an operator's reply to the customer (human mode only)",
      description:
        "Goes out through the conversation's channel, through the delivery ledger (once per id, whatever the " +
        'retries), and into the transcript as an assistant message of its own turn (`operator` in the items). ' +
        '409 `not_in_human_mode` unless the conversation is taken over.',
      access: 'key',
      params: conversationParams,
      body: z
        .object({
          id: utf16Max(pathId, 256).optional().describe('Your id for the reply: sent once per id'),
          operator: operatorName,
          text: utf16Max(nonBlankText(MAX_MESSAGE_TEXT), MAX_MESSAGE_TEXT),
        })
        .meta({ id: 'OperatorMessageInput' }),
      responses: {
        200: { description: 'Recorded and handed to the channel', schema: operatorReplyShape },
        404: { description: 'No such conversation', schema: errorBody },
        409: { description: 'Not in human mode (`not_in_human_mode`)', schema: errorBody },
        503: notAppliedResponse,
      },
    },
    async ({ params, body }, req, res) => {
      const { input, workflowId } = await locate(req, res, params);
      // The id is fixed before any retry, so a reply sent again is still sent once.
      const id = body.id ?? randomUUID();
      const reply = await updateWithStart(
        operatorMessageUpdate,
        [{ id, operator: body.operator, text: body.text }],
        input,
        workflowId,
      );
      res.json(reply);
    },
  );
}
