import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AgentSettings } from '../agents/types.js';
import { bookkeeping } from './activityOptions.js';
import { decideBurst } from './burst.js';
import { ConversationState, needsReplyText, type CarriedState } from './conversationState.js';
import {
  closeSignal,
  conversationClosing,
  messageSignal,
  resetSignal,
  sendMessageUpdate,
  stateQuery,
  validateInboundMessage,
  type Strategy,
  type TurnReply,
} from './messages.js';
import type { ConversationKey } from './ids.js';
import { IdleTimer } from './idleTimer.js';
import { AGENT, CHANNEL, STATUS, TENANT } from './searchAttributes.js';
import { setStatus } from './statusAttribute.js';
import { StatusChanges } from './statusChanges.js';
import { installApprovalHandlers } from './approvalFlow.js';
import {
  takeoverStep,
  installTakeoverHandlers,
  applyToolTakeover,
  persistHumanMode,
} from './takeoverFlow.js';
import { workflowNow } from './time.js';
import { settingsFor } from './agents.js';
import { openRun } from './runOpening.js';
import { runTurn } from './turn.js';
import { inTurnTrace } from './turnTrace.js';

export interface ConversationInput extends ConversationKey {
  agent: string;
  /** Present after continue-as-new. */
  carried?: CarriedState;
}

const { startSegment, markClosed, loadReplyText } = proxyActivities<Activities>(bookkeeping);

/**
 * Since this patch, checked once as a run starts: the status search attribute is written only when
 * it changes (statusChanges.ts) and the wait between turns keeps one timer per idle period
 * (idleTimer.ts), four history events fewer a turn. Runs recorded before it replay as they were.
 */
export const QUIET_TURNS_PATCH = 'quiet-turns';

export async function conversationWorkflow(input: ConversationInput): Promise<void> {
  const conversationId = workflowInfo().workflowId;
  const state = new ConversationState(input.carried);
  let running = false;
  let collecting = false;
  /** The run is ending: updates are refused (the caller retries into a new run); signals still queue. */
  let closing = false;
  /** Message ids whose update callers are waiting for the reply. */
  const awaitingReply = new Set<string>();
  // Until the agent's settings are loaded the query reports the default strategy.
  let strategy: Strategy = 'previous_response_id';
  /** Settings loaded and state restored: the operators' updates wait for it. */
  let ready = false;
  const takeover = { conversationId, input, state, ready: () => ready, closing: () => closing };
  installTakeoverHandlers(takeover);
  installApprovalHandlers(state);

  setHandler(messageSignal, (message) => {
    // A signal cannot be rejected; a malformed one is logged and dropped rather than poisoning a turn.
    try {
      validateInboundMessage(message);
    } catch (err) {
      log.warn('ignored an invalid message signal', { error: (err as Error).message });
      return;
    }
    state.accept(message, workflowNow());
  });
  setHandler(
    sendMessageUpdate,
    async (message): Promise<TurnReply> => {
      state.accept(message, workflowNow());
      awaitingReply.add(message.id);
      await condition(() => state.replyFor(message.id) !== undefined || !state.isPending(message.id));
      awaitingReply.delete(message.id);
      const held = state.replyFor(message.id);
      if (!held) return { messageId: message.id, status: 'duplicate', turn: 0, text: null, responseId: null };
      // A reply carried across continue-as-new has no text: read it back (only a retrying caller pays).
      if (needsReplyText(held))
        return { ...held, text: await loadReplyText({ conversationId, turn: held.turn }) };
      return { ...held, text: held.text ?? null };
    },
    {
      validator: (message) => {
        validateInboundMessage(message);
        if (closing) throw conversationClosing();
      },
    },
  );
  setHandler(stateQuery, () => ({
    status:
      state.closeRequested && !running
        ? 'closed'
        : running
          ? state.approvals.pending.size > 0
            ? 'awaiting_approval'
            : 'running'
          : collecting
            ? 'collecting'
            : 'idle',
    agent: state.agent ?? input.agent,
    strategy,
    inboxLength: state.inbox.length,
    turns: state.turns,
    segment: state.segment,
    lastResponseId: state.lastResponseId,
    usage: state.usage,
    lastError: state.lastError,
    pendingApprovals: state.approvals.list(),
    humanMode: state.takeover.humanMode,
  }));
  setHandler(resetSignal, () => {
    state.resetRequested = true;
  });
  setHandler(closeSignal, () => {
    state.closeRequested = true;
  });

  const currentAgent = () => state.agent ?? input.agent;
  const quiet = patched(QUIET_TURNS_PATCH);
  state.status = new StatusChanges(quiet);
  const idleTimer = quiet ? new IdleTimer() : null;
  const opened = await openRun(conversationId, input, state);
  const { byActivity } = opened;
  let settings: AgentSettings = opened.settings;
  let settingsAgent = currentAgent();
  let settingsLoadedAt = opened.loadedAt;
  strategy = settings.strategy;
  ready = true;
  upsertSearchAttributes([
    { key: TENANT, value: input.tenant },
    { key: CHANNEL, value: input.channel },
    { key: AGENT, value: currentAgent() },
    { key: STATUS, value: state.status.next('idle') ?? 'idle' },
  ]);

  let turnsThisRun = 0;
  // Continue-as-new once no update caller waits on a queued message (its handler must finish in
  // this run); messages that came as signals travel in the carried inbox, close and reset too.
  // An operator reply waiting in the outbox has a waiting handler: it is sent first.
  const continueAsNewIfDue = async () => {
    const due = workflowInfo().continueAsNewSuggested || turnsThisRun >= settings.continueAsNewAfterTurns;
    if (!due) return;
    const waitedOn = () =>
      state.inbox.some((e) => awaitingReply.has(e.message.id)) || state.takeover.outbox.length > 0;
    await condition(() => allHandlersFinished() || waitedOn());
    if (allHandlersFinished()) {
      const withReplyText = !patched('carry-replies-without-text');
      await continueAsNew<typeof conversationWorkflow>({
        ...input,
        carried: state.carry({ withReplyText }),
      });
    }
  };
  for (;;) {
    for (;;) {
      const ready = () =>
        state.inbox.length > 0 ||
        state.closeRequested ||
        state.resetRequested ||
        state.takeover.outbox.length > 0;
      const active = idleTimer
        ? await idleTimer.wait(ready, settings.idleTimeoutMs)
        : await condition(ready, settings.idleTimeoutMs);
      if (!active) break;
      if (state.resetRequested) {
        state.startNewSegment();
        await startSegment({
          conversationId,
          segment: state.segment,
          key: { tenant: input.tenant, channel: input.channel, externalId: input.externalId },
          agent: currentAgent(),
        });
        setCurrentDetails(`Reset: transcript segment ${state.segment} started after turn ${state.turns}.`);
        continue;
      }
      // Operator replies, or customer messages while a human has the conversation: no model call.
      if (await takeoverStep(takeover)) {
        turnsThisRun += 1;
        await continueAsNewIfDue();
        continue;
      }
      if (state.inbox.length === 0) break; // close requested, nothing left to answer
      // A deploy may have changed or removed the agent since its settings were read: read them
      // again (a local activity), unless they were read for this very turn.
      // Since the patch 'agent-settings-by-activity' the turn's first step reads them instead.
      if (
        !byActivity &&
        (turnsThisRun > 0 || workflowNow() - settingsLoadedAt > 1_000) &&
        patched('agent-settings-per-turn')
      ) {
        settings = await settingsFor(currentAgent(), false);
        settingsAgent = currentAgent();
        settingsLoadedAt = workflowNow();
      }

      const count = await collectBurst(state, settings, (c) => (collecting = c));
      // The reset comes first: the burst is answered in the new segment. A takeover during the wait
      // gives the whole burst to the human (the agent had not answered any of it).
      if (count === 'reset' || count === 'takeover') continue;
      const batch = state.takeBatch(count);
      running = true;
      setStatus(state.status, 'running');
      const turn = await inTurnTrace(batch, () =>
        runTurn(conversationId, input, { settings, byActivity }, state, batch),
      );
      const outcome = turn.outcome;
      if (byActivity) settings = turn.settings;
      running = false;
      setStatus(state.status, outcome);
      await applyToolTakeover(takeover);
      turnsThisRun += 1;
      // After a handoff the target's idle timeout and continue-as-new limit apply.
      if (settingsAgent !== currentAgent() && !byActivity) {
        settings = await settingsFor(currentAgent(), false);
        settingsAgent = currentAgent();
        settingsLoadedAt = workflowNow();
      }

      await continueAsNewIfDue();
    }

    // Ending: from here no update is admitted (the validator refuses it, the caller retries into a
    // new run), but a signal can still arrive while markClosed runs.
    closing = true;
    if (state.closeRequested) {
      await markClosed(conversationId);
      setStatus(state.status, 'closed');
      // A close ends a takeover too: a customer who writes again later meets the agent.
      if (state.takeover.humanMode) {
        state.takeover.handBack();
        await persistHumanMode(takeover, null);
      }
    }
    await condition(
      () => allHandlersFinished() || state.inbox.length > 0 || state.takeover.outbox.length > 0,
    );
    // The run ends only in an activation that sees an empty inbox and no waiting handler; a signal
    // that lands after it makes the server refuse the completion and the run sees it. A reset that
    // came while closing is acted on too (the next run would not know of it).
    const more = state.inbox.length > 0 || state.resetRequested || state.takeover.outbox.length > 0;
    if (!more || !patched('answer-messages-that-arrive-while-closing')) break;
    closing = false;
  }
}

/**
 * Waits while a burst is still arriving; returns how many waiting messages form this turn,
 * 'reset' when a reset came during the wait (it must apply before the burst is answered), or
 * 'takeover' when a human took the conversation during the wait.
 */
async function collectBurst(
  state: ConversationState,
  settings: AgentSettings,
  setCollecting: (collecting: boolean) => void,
): Promise<number | 'reset' | 'takeover'> {
  /** Decided once, before the first wait: a takeover wakes the wait only in histories made since. */
  let wakeOnTakeover: boolean | undefined;
  for (;;) {
    // Checked between waits, not inside them, so histories recorded before replay unchanged.
    if (state.resetRequested && patched('reset-before-burst')) {
      setCollecting(false);
      return 'reset';
    }
    if (wakeOnTakeover && state.takeover.humanMode) {
      setCollecting(false);
      return 'takeover';
    }
    const decision = decideBurst(state.arrivals(), workflowNow(), settings.burst);
    if (decision.kind === 'take' || state.closeRequested) {
      setCollecting(false);
      return state.inbox.length;
    }
    if (decision.kind === 'idle') throw new Error('collectBurst called with an empty inbox');
    setCollecting(true);
    wakeOnTakeover ??= patched('takeover-during-burst');
    const waiting = state.inbox.length;
    await condition(
      () =>
        state.inbox.length !== waiting ||
        state.closeRequested ||
        (wakeOnTakeover === true && state.takeover.humanMode !== null),
      decision.untilMs - workflowNow(),
    );
  }
}
