import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { agentTemplate } from '../../activities/channelExtras.js';
import { deliverPart, type ChannelSender } from '../../activities/delivery.js';
import type { AgentRegistry } from '../../agents/registry.js';
import type { Pool } from '../../store/pool.js';
import { parseConversationWorkflowId } from '../../workflows/ids.js';
import { fallbackText } from '../actions.js';
import { RE_ENGAGEMENT_ERROR } from './window.js';

/**
 * Meta refuses a free-form message outside the 24-hour window with 131047 either in the send call's
 * answer (src/activities/delivery.ts sends the agent's template instead) or later, in a status
 * webhook for a message it had accepted. This is the second path: the API, which has neither the
 * agents nor their templates, starts one small workflow per refused turn, and its activity sends
 * the template through the same ledger row (`template` of that turn) the send-call path uses. So
 * the template goes out once per turn, whichever path saw the refusal first and however often Meta
 * redelivers the status.
 */

export const RE_ENGAGEMENT_WORKFLOW = 'whatsappReEngagementWorkflow';

export interface ReEngagementInput {
  conversationId: string;
  turn: number;
}

export interface ReEngagementResult {
  /** not_refused: no message of the turn is settled blocked by a 131047 status. */
  status: 'sent' | 'already_sent' | 'blocked' | 'failed' | 'no_template' | 'not_refused';
}

/** One workflow per refused turn: a redelivered status finds it (running) or its ledger row (done). */
export function reEngagementWorkflowId(input: ReEngagementInput): string {
  return `whatsapp-reengage:${input.conversationId}:${input.turn}`;
}

/** API side: starts the template send for each turn Meta refused; durable once Temporal has it. */
export async function startReEngagement(
  deps: { client: Client; taskQueue: string },
  refusals: ReEngagementInput[],
): Promise<void> {
  for (const input of refusals) {
    try {
      await deps.client.workflow.start(RE_ENGAGEMENT_WORKFLOW, {
        workflowId: reEngagementWorkflowId(input),
        taskQueue: deps.taskQueue,
        args: [input],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
}

/** Worker side, the activity: the agent's template, once, through the turn's `template` ledger row. */
export async function sendReEngagementTemplate(
  deps: {
    pool: Pool;
    agents: AgentRegistry;
    senders: ReadonlyMap<string, ChannelSender>;
    log?: { warn(message: string, attributes: Record<string, unknown>): void };
  },
  input: ReEngagementInput,
): Promise<ReEngagementResult> {
  const key = parseConversationWorkflowId(input.conversationId);
  if (!key || key.channel !== 'whatsapp')
    throw ApplicationFailure.nonRetryable(
      `conversationId must be a WhatsApp conversation workflow id, got ${input.conversationId.slice(0, 100)}`,
      'InvalidConversationId',
    );
  const { rowCount } = await deps.pool.query(
    `SELECT 1 FROM deliveries WHERE conversation_id = $1 AND turn = $2 AND status = 'blocked'
        AND provider_error_code = $3 LIMIT 1`,
    [input.conversationId, input.turn, RE_ENGAGEMENT_ERROR],
  );
  if (!rowCount) return { status: 'not_refused' };
  const template = await agentTemplate(deps, input.conversationId);
  if (!template) return { status: 'no_template' };
  const info = Context.current().info;
  const action = { type: 'template' as const, ...template };
  const outcome = await deliverPart(
    deps,
    {
      conversationId: input.conversationId,
      externalId: key.externalId,
      channel: key.channel,
      tenant: key.tenant,
      turn: input.turn,
      part: 'template',
      message: {
        conversationId: input.conversationId,
        externalId: key.externalId,
        action,
        text: fallbackText(action),
        // The send-call path's key for the same row.
        idempotencyKey: `${input.conversationId}/${input.turn}/template`,
      },
    },
    { attempt: info.attempt, leaseMs: info.startToCloseTimeoutMs },
  );
  return { status: outcome };
}
