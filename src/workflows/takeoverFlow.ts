import {
  condition,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { bookkeeping, deliveryOptions } from './activityOptions.js';
import type { ConversationInput } from './conversation.js';
import type { ConversationState } from './conversationState.js';
import {
  conversationClosing,
  handBackUpdate,
  notInHumanMode,
  operatorMessageUpdate,
  takeOverUpdate,
  validateHandBack,
  validateOperatorMessage,
  validateTakeOver,
  type HumanMode,
  type InboundMessage,
  type OperatorReply,
} from './messages.js';
import { HUMAN_MODE } from './searchAttributes.js';
import { escalationReason } from './takeover.js';
import { workflowNow } from './time.js';
import { leaveOutRedelivered } from './redelivered.js';

// The workflow side of human takeover: the operator's updates, the turns recorded without the
// model, and the operator's replies going out through the channel's delivery ledger.
const { recordHumanMode, finishHumanTurn, recordOperatorMessage, recordTurnInput } =
  proxyActivities<Activities>(bookkeeping);
const { deliverReply } = proxyActivities<Activities>(deliveryOptions);

const iso = (ms: number) => new Date(ms).toISOString();

export interface TakeoverContext {
  conversationId: string;
  input: ConversationInput;
  state: ConversationState;
  /** The run has loaded its settings and restored its state: handlers may act. */
  ready: () => boolean;
  /** The run is ending: updates are refused (the caller retries into a new run). */
  closing: () => boolean;
}

export function installTakeoverHandlers(ctx: TakeoverContext): void {
  const { state } = ctx;
  const refuseWhileClosing = () => {
    if (ctx.closing()) throw conversationClosing();
  };
  setHandler(
    takeOverUpdate,
    async (request): Promise<HumanMode> => {
      await condition(ctx.ready);
      const already = state.takeover.humanMode;
      const mode = state.takeover.takeOver(request, 'operator', iso(workflowNow()));
      if (!already) await persistHumanMode(ctx, mode);
      return mode;
    },
    {
      validator: (request) => {
        validateTakeOver(request);
        refuseWhileClosing();
      },
    },
  );
  setHandler(
    handBackUpdate,
    async (): Promise<{ humanMode: null }> => {
      await condition(ctx.ready);
      if (state.takeover.humanMode) {
        state.takeover.handBack();
        await persistHumanMode(ctx, null);
      }
      return { humanMode: null };
    },
    {
      validator: (request) => {
        validateHandBack(request);
        refuseWhileClosing();
      },
    },
  );
  setHandler(
    operatorMessageUpdate,
    async (message): Promise<OperatorReply> => {
      await condition(ctx.ready);
      const held = state.takeover.replyFor(message.id);
      if (held) return { ...held, status: 'duplicate' };
      if (!state.takeover.humanMode && !state.takeover.isQueued(message.id)) throw notInHumanMode();
      state.takeover.enqueue(message);
      // The main loop sends it between turns, so operator replies and turns never share a number.
      await condition(() => state.takeover.replyFor(message.id) !== undefined);
      return state.takeover.replyFor(message.id)!;
    },
    {
      validator: (message) => {
        validateOperatorMessage(message);
        refuseWhileClosing();
      },
    },
  );
}

/** Human mode in Postgres (a new run restores it) and in the Temporal UI (ThreadlineHumanMode). */
export async function persistHumanMode(ctx: TakeoverContext, mode: HumanMode | null): Promise<void> {
  if (!patched('human-takeover')) return;
  upsertSearchAttributes([{ key: HUMAN_MODE, value: mode !== null }]);
  await recordHumanMode({
    conversationId: ctx.conversationId,
    key: keyOf(ctx.input),
    agent: ctx.input.agent,
    segment: ctx.state.segment,
    humanMode: mode,
  });
}

/** An escalation tool was called during the turn: the conversation is a human's from now on. */
export async function applyToolTakeover(ctx: TakeoverContext): Promise<void> {
  const request = ctx.state.takeover.requestedByTool;
  if (!request) return;
  ctx.state.takeover.requestedByTool = null;
  if (ctx.state.takeover.humanMode) return;
  const mode = ctx.state.takeover.takeOver(
    { operator: `tool:${request.tool}`, ...(request.reason ? { reason: request.reason } : {}) },
    'tool',
    iso(workflowNow()),
  );
  await persistHumanMode(ctx, mode);
}

/** In turn.ts, after a tool round: did the model call a tool that hands the conversation over? */
export function noteTakeoverCalls(
  state: ConversationState,
  takeoverTools: readonly string[] | undefined,
  calls: readonly { name: string; arguments: string }[],
): void {
  const call = calls.find((c) => takeoverTools?.includes(c.name));
  if (call && !state.takeover.requestedByTool)
    state.takeover.requestedByTool = { tool: call.name, reason: escalationReason(call.arguments) };
}

/** Customer messages while a human has the conversation: recorded as a turn, no model, no reply. */
export async function runHumanTurn(ctx: TakeoverContext, batch: InboundMessage[]): Promise<void> {
  const { state } = ctx;
  const proposed = state.turns + 1;
  const common = {
    conversationId: ctx.conversationId,
    key: keyOf(ctx.input),
    agent: ctx.input.agent,
    turn: proposed,
    segment: state.segment,
  };
  const recorded = await recordTurnInput({ ...common, now: iso(workflowNow()), messages: batch });
  leaveOutRedelivered(state, recorded.duplicates);
  if (recorded.items === 0) {
    state.finishTurn(state.turns, { status: 'duplicate', turn: state.turns, text: null, responseId: null });
    return;
  }
  const turn = recorded.turn ?? proposed;
  await finishHumanTurn({
    ...common,
    turn,
    lastResponseId: state.lastResponseId,
    error: null,
    apology: null,
  });
  state.takeover.noteHumanTurn(turn);
  state.finishTurn(turn, { status: 'human', turn, text: null, responseId: null });
}

/** Sends the queued operator replies, one turn each, through the delivery ledger. */
export async function sendOperatorReplies(ctx: TakeoverContext): Promise<void> {
  const { state } = ctx;
  for (let next = state.takeover.outbox[0]; next; next = state.takeover.outbox[0]) {
    const recorded = await recordOperatorMessage({
      conversationId: ctx.conversationId,
      key: keyOf(ctx.input),
      agent: ctx.input.agent,
      segment: state.segment,
      turn: state.turns + 1,
      message: next,
    });
    let delivery: OperatorReply['delivery'];
    try {
      delivery = (
        await deliverReply({
          conversationId: ctx.conversationId,
          externalId: ctx.input.externalId,
          channel: ctx.input.channel,
          turn: recorded.turn,
        })
      ).status;
    } catch {
      // As for the agent's replies: the ledger records it; the conversation goes on.
      delivery = 'failed';
    }
    state.turns = Math.max(state.turns, recorded.turn);
    state.takeover.noteHumanTurn(recorded.turn);
    state.takeover.finishReply({
      messageId: next.id,
      status: recorded.duplicate ? 'duplicate' : 'sent',
      turn: recorded.turn,
      delivery,
    });
  }
}

function keyOf(input: ConversationInput) {
  return { tenant: input.tenant, channel: input.channel, externalId: input.externalId };
}

/**
 * One step of the main loop that needs no model: queued operator replies go out first; while a
 * human has the conversation, the waiting customer messages are recorded as a turn. False when
 * neither applies (the agent answers).
 */
export async function takeoverStep(ctx: TakeoverContext): Promise<boolean> {
  const { state } = ctx;
  if (state.takeover.outbox.length > 0) {
    await sendOperatorReplies(ctx);
    return true;
  }
  if (state.takeover.humanMode && state.inbox.length > 0 && patched('human-takeover')) {
    await runHumanTurn(ctx, state.takeBatch(state.inbox.length));
    return true;
  }
  return false;
}
