import {
  isGrpcDeadlineError,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { sendAndWait } from '../../../src/api/routes/messages.js';
import { untilTaken } from '../../../src/api/untakenUpdates.js';
import { ApiError } from '../../../src/api/errors.js';
import type { FaultRule } from '../../../src/emulator/faults.js';
import type { ConversationInput } from '../../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../../src/workflows/ids.js';
import {
  closeSignal,
  decideApprovalUpdate,
  handBackUpdate,
  messageSignal,
  operatorMessageUpdate,
  resetSignal,
  stateQuery,
  takeOverUpdate,
  type InboundMessage,
  type TurnReply,
} from '../../../src/workflows/messages.js';
import { agentName, type FaultKind, type Schedule } from './generate.js';
import { SCHEDULE_CHANNEL, SCHEDULE_TENANT, type ScheduleWorld } from './world.js';

export type UpdateOutcome =
  | { reply: TurnReply }
  | { refused: string }
  | { error: string }
  /** The caller timed out (DEADLINE_EXCEEDED): taken or not, Postgres says (check.ts). */
  | { unknown: string };

export interface ScheduleRun {
  label: string;
  conversationId: string;
  messages: InboundMessage[];
  /** Ids the conversation took in: every signalled id, and every id an update got a reply for. */
  accepted: Set<string>;
  updates: { id: string; outcome: Promise<UpdateOutcome>; settledAt: number | null }[];
  /** Ids of new messages sent after a reset that reached a run: they must be in a later segment. */
  afterReset: Set<string>;
  /** A close that reached a run was the last thing sent, with no update in flight: the run must end. */
  mustClose: boolean;
  /** Operator replies and what their update said: 'sent' ones must be in the transcript and delivered once. */
  operatorReplies: {
    id: string;
    text: string;
    outcome: Promise<'sent' | 'refused' | string>;
    settledAt: number | null;
  }[];
  /** Decisions an operator's update had applied: the approval row must say the same. */
  decisions: { callId: string; approve: boolean }[];
  /** Whether a human must have the conversation at the end; null when a close makes it unknowable. */
  humanModeAtEnd: boolean | null;
  /** New messages sent after a takeover with no hand back or close after them: no agent may answer. */
  mustBeHuman: Set<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What an update caller that got an error was told. */
export function updateOutcomeOf(err: unknown): UpdateOutcome {
  if (isGrpcDeadlineError(err) || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError)
    return { unknown: err instanceof Error ? err.message : String(err) };
  return err instanceof ApiError && err.code === 'conversation_closing'
    ? { refused: err.message }
    : { error: err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : String(err) };
}

/** The unique marker a message's text carries; faults match it in the model request's body. */
export const marker = (label: string, k: number) => `[${label}.m${k}]`;

function faultRule(kind: FaultKind, bodyIncludes: string): FaultRule {
  const match = { path: '^/v1/responses$', bodyIncludes };
  switch (kind) {
    case 'rate_limit':
      return { kind, match, retryAfterMs: 200 };
    case 'latency':
      return { kind, match, latencyMs: 800 };
    default:
      return { kind, match };
  }
}

/** Plays one schedule's actions in order; updates run on while later actions go ahead. */
export async function runSchedule(
  world: ScheduleWorld,
  schedule: Schedule,
  label: string,
): Promise<ScheduleRun> {
  const input: ConversationInput = {
    tenant: SCHEDULE_TENANT,
    channel: SCHEDULE_CHANNEL,
    externalId: label,
    agent: agentName(schedule.agent),
  };
  const conversationId = conversationWorkflowId(input);
  const run: ScheduleRun = {
    label,
    conversationId,
    messages: [],
    accepted: new Set(),
    updates: [],
    afterReset: new Set(),
    mustClose: false,
    operatorReplies: [],
    decisions: [],
    humanModeAtEnd: null,
    mustBeHuman: new Set(),
  };
  let sentWhileHuman: string[] = [];
  /** The takeover came after a close: the closing run may have taken it, then ended it. */
  let takeoverAfterClose = false;
  let human = false;
  let closedOnce = false;
  const withStart = () =>
    new WithStartWorkflowOperation('conversationWorkflow', {
      workflowId: conversationId,
      taskQueue: world.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  /** An operator's update; a refusal (not in human mode, closing) is a valid answer, not a failure. */
  // As the API sends them (src/api/routes/operators.ts): again while the server does not take them.
  const operatorUpdate = <T>(send: () => Promise<T>): Promise<T | 'refused'> =>
    untilTaken(send, () => new Error('the server did not take the update (3 tries)')).catch(
      (err: unknown) => {
        if (err instanceof WorkflowUpdateFailedError) return 'refused' as const;
        throw err;
      },
    );
  let resetDelivered = false;
  let closedAt: number | null = null;
  const fresh = (fault: FaultKind | null): InboundMessage => {
    const k = run.messages.length;
    const m: InboundMessage = {
      id: `${label}.m${k}`,
      text: `${marker(label, k)} message ${k}`,
      receivedAt: new Date().toISOString(),
    };
    run.messages.push(m);
    if (resetDelivered) run.afterReset.add(m.id);
    if (human && !takeoverAfterClose) sentWhileHuman.push(m.id);
    if (fault) world.faults.add(faultRule(fault, marker(label, k)));
    return m;
  };
  const signal = async (m: InboundMessage) => {
    await world.client.workflow.signalWithStart('conversationWorkflow', {
      workflowId: conversationId,
      taskQueue: world.taskQueue,
      args: [input],
      signal: messageSignal,
      signalArgs: [m],
    });
    run.accepted.add(m.id);
  };
  const update = (m: InboundMessage) => {
    const entry: ScheduleRun['updates'][number] = {
      id: m.id,
      outcome: Promise.resolve({ error: '' }),
      settledAt: null,
    };
    entry.outcome = sendAndWait(world, input, m).then(
      (reply): UpdateOutcome => {
        run.accepted.add(m.id);
        return { reply };
      },
      (err: unknown): UpdateOutcome => updateOutcomeOf(err),
    );
    void entry.outcome.then(() => (entry.settledAt = Date.now()));
    run.updates.push(entry);
  };
  /** True when the signal reached a run; with no run (none yet, or it ended) there is nothing to do. */
  const other = (signalDef: typeof closeSignal | typeof resetSignal): Promise<boolean> =>
    world.client.workflow
      .getHandle(conversationId)
      .signal(signalDef)
      .then(
        () => true,
        () => false,
      );

  /** Messages sent while a human had it and already answered before a hand back or close is sent: human turns. */
  const settleHumanClaims = async () => {
    if (sentWhileHuman.length === 0) return;
    const { rows } = await world.pool.query<{ message_id: string }>(
      `SELECT message_id FROM inbound_messages
        WHERE conversation_id = $1 AND message_id = ANY($2::text[]) AND answered_at IS NOT NULL`,
      [conversationId, sentWhileHuman],
    );
    for (const r of rows) run.mustBeHuman.add(r.message_id);
    sentWhileHuman = [];
  };

  for (const { gapMs, action } of schedule.steps) {
    if (gapMs > 0) await sleep(gapMs);
    if (action.kind === 'close' || action.kind === 'handBack') await settleHumanClaims();
    if (action.kind !== 'pause') closedAt = null;
    switch (action.kind) {
      case 'signal':
        await signal(fresh(action.fault));
        break;
      case 'update':
        update(fresh(action.fault));
        break;
      case 'dupSignal':
      case 'dupUpdate': {
        const earlier = run.messages[action.of % Math.max(run.messages.length, 1)];
        if (!earlier) break;
        if (action.kind === 'dupSignal') await signal(earlier);
        else update(earlier);
        break;
      }
      case 'burst':
        for (let i = 0; i < action.size; i++) await signal(fresh(null));
        break;
      case 'close':
        if (await other(closeSignal)) {
          closedAt = Date.now();
          // A close ends a takeover: what is sent after it may meet the agent.
          human = false;
        }
        break;
      case 'reset':
        if (await other(resetSignal)) resetDelivered = true;
        break;
      case 'pause':
        await sleep(action.ms);
        break;
      case 'toolCall': {
        const m = fresh(null);
        m.text = `${m.text} call refund {"amount": ${run.messages.length - 1}}`;
        await signal(m);
        break;
      }
      case 'decide': {
        const handle = world.client.workflow.getHandle(conversationId);
        const state = await handle.query(stateQuery).catch(() => null);
        const callId = state?.pendingApprovals?.[0]?.callId;
        if (!callId) break;
        const decided = await operatorUpdate(() =>
          handle.executeUpdate(decideApprovalUpdate, {
            args: [{ callId, approve: action.approve, operator: 'schedule', reason: `because ${callId}` }],
          }),
        ).catch(() => 'refused' as const);
        if (decided !== 'refused') run.decisions.push({ callId, approve: action.approve });
        break;
      }
      case 'takeOver':
      case 'handBack': {
        const result = await operatorUpdate<unknown>(() =>
          action.kind === 'takeOver'
            ? world.client.workflow.executeUpdateWithStart(takeOverUpdate, {
                args: [{ operator: 'schedule' }],
                startWorkflowOperation: withStart(),
              })
            : world.client.workflow.executeUpdateWithStart(handBackUpdate, {
                args: [{ operator: 'schedule' }],
                startWorkflowOperation: withStart(),
              }),
        );
        if (result !== 'refused') {
          human = action.kind === 'takeOver';
          takeoverAfterClose = closedOnce;
        }
        break;
      }
      case 'operatorReply': {
        const id = `${label}.op${run.operatorReplies.length}`;
        const text = `[${id}] operator reply`;
        const outcome = operatorUpdate(() =>
          world.client.workflow.executeUpdateWithStart(operatorMessageUpdate, {
            args: [{ id, operator: 'schedule', text }],
            startWorkflowOperation: withStart(),
          }),
        ).then(
          (r) => (r === 'refused' ? r : r.status === 'sent' || r.status === 'duplicate' ? 'sent' : r.status),
          (err: unknown) => ('unknown' in updateOutcomeOf(err) ? 'unknown' : `error: ${String(err)}`),
        );
        const entry = { id, text, outcome, settledAt: null as number | null };
        void outcome.then(() => (entry.settledAt = Date.now()));
        run.operatorReplies.push(entry);
        break;
      }
    }
    if (action.kind === 'close') closedOnce = true;
  }
  for (const id of sentWhileHuman) run.mustBeHuman.add(id);
  run.humanModeAtEnd = closedOnce ? null : human;
  if (closedAt !== null) {
    const at = closedAt;
    // An update still in flight at the close may be retried into a new run: then nothing must end.
    // An operator's reply too: sent again after an abort, it can start a run after the close.
    const settledBefore = (u: { settledAt: number | null }) => u.settledAt !== null && u.settledAt < at;
    run.mustClose = run.updates.every(settledBefore) && run.operatorReplies.every(settledBefore);
  }
  return run;
}
