import { condition, setCurrentDetails, setHandler, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AgentSettings } from '../agents/types.js';
import { bookkeeping } from './activityOptions.js';
import { approvalTimeoutMs, humanDuration } from './approvals.js';
import type { ConversationState } from './conversationState.js';
import type { ConversationKey } from './ids.js';
import { decideApprovalUpdate, validateDecideApproval, type ApprovalDecision } from './messages.js';
import { setStatus } from './statusAttribute.js';
import { workflowNow } from './time.js';

// The workflow side of tool approvals: the operator's update, and the wait inside a tool round.
const { settleApproval } = proxyActivities<Activities>(bookkeeping);

const iso = (ms: number) => new Date(ms).toISOString();

export function installApprovalHandlers(state: ConversationState): void {
  // An update, not a signal: the operator learns at once that a call id is unknown or decided.
  setHandler(
    decideApprovalUpdate,
    (input): ApprovalDecision => state.approvals.decide(input, iso(workflowNow())),
    {
      validator: (input) => {
        validateDecideApproval(input);
        state.approvals.validate(input);
      },
    },
  );
}

export interface ApprovalCall {
  conversationId: string;
  key: ConversationKey;
  turn: number;
  step: number;
  segment: number;
  callId: string;
  name: string;
  arguments: string;
}

/** Why a pending call cannot wait any longer: a close or reset ends its turn's waiting. */
function interruption(state: ConversationState): string | null {
  if (state.closeRequested) return 'the conversation was closed before an operator decided';
  if (state.resetRequested) return 'the conversation was reset before an operator decided';
  return null;
}

/**
 * Holds a call its tool said needs approval until an operator decides, the timeout passes, or a
 * close/reset comes; records the decision; runs the tool (`runApproved`) only when approved. A
 * timer in history, so the wait survives worker restarts; the decision is applied once.
 */
export async function resolveApproval(
  call: ApprovalCall,
  settings: AgentSettings,
  state: ConversationState,
  runApproved: () => Promise<unknown>,
): Promise<ApprovalDecision> {
  const timeout = approvalTimeoutMs(settings, call.name);
  const now = workflowNow();
  state.approvals.request({
    callId: call.callId,
    tool: call.name,
    arguments: call.arguments,
    turn: call.turn,
    step: call.step,
    requestedAt: iso(now),
    expiresAt: iso(now + timeout),
  });
  setStatus(state.status, 'awaiting_approval');
  setCurrentDetails(`Turn ${call.turn}: ${call.name} (${call.callId}) waits for an operator's approval.`);
  await condition(
    () => state.approvals.decisionFor(call.callId) !== undefined || interruption(state) !== null,
    timeout,
  );
  const why = interruption(state);
  const decision =
    state.approvals.decisionFor(call.callId) ??
    (why !== null
      ? state.approvals.settle(call.callId, 'cancelled', null, why, iso(workflowNow()))
      : state.approvals.settle(
          call.callId,
          'expired',
          null,
          `no decision within ${humanDuration(timeout)}`,
          iso(workflowNow()),
        ));
  if (state.approvals.pending.size === 0) setStatus(state.status, 'running');
  await settleApproval({
    conversationId: call.conversationId,
    key: call.key,
    turn: call.turn,
    step: call.step,
    segment: call.segment,
    callId: call.callId,
    name: call.name,
    decision,
  });
  if (decision.outcome === 'approved') await runApproved();
  return decision;
}
