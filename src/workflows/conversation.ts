import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CallModelResult } from '../activities/model.js';
import { TOOL_RETRY } from '../agents/toolPolicy.js';
import type { AgentSettings } from '../agents/types.js';
import { decideBurst } from './burst.js';
import { ConversationState, needsReplyText, type CarriedState } from './conversationState.js';
import type { ConversationKey } from './ids.js';
import {
  closeSignal,
  conversationClosing,
  messageSignal,
  resetSignal,
  sendMessageUpdate,
  stateQuery,
  validateInboundMessage,
  type InboundMessage,
  type Strategy,
  type TurnReply,
} from './messages.js';
import { AGENT, CHANNEL, STATUS, TENANT } from './searchAttributes.js';
import { workflowNow } from './time.js';
import { unknownAgentSettings } from './unknownAgent.js';

export interface ConversationInput extends ConversationKey {
  agent: string;
  /** Present after continue-as-new. */
  carried?: CarriedState;
}

// Short, local: reads the agent registry in the worker. Retried freely, it has no side effects.
const { loadAgentSettings } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });

const bookkeeping: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};
const { loadConversation, recordTurnInput, finishTurn, startSegment, markClosed, loadReplyText } =
  proxyActivities<Activities>(bookkeeping);

// A model call is retried while the API says retrying can help (429s wait out Retry-After, 5xx,
// connection errors); non-retryable errors fail at once. After 10 minutes the turn gives up.
const modelOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
const { callModel } = proxyActivities<Activities>(modelOptions);
const { runTool, skipTool } = proxyActivities<Activities>(bookkeeping);
const deliveryOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes' },
};
const { deliverReply } = proxyActivities<Activities>(deliveryOptions);

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
      state.closeRequested && !running ? 'closed' : running ? 'running' : collecting ? 'collecting' : 'idle',
    agent: input.agent,
    strategy,
    inboxLength: state.inbox.length,
    turns: state.turns,
    segment: state.segment,
    lastResponseId: state.lastResponseId,
    usage: state.usage,
    lastError: state.lastError,
  }));
  setHandler(resetSignal, () => {
    state.resetRequested = true;
  });
  setHandler(closeSignal, () => {
    state.closeRequested = true;
  });

  let settings: AgentSettings;
  try {
    settings = await loadAgentSettings(input.agent);
  } catch (err) {
    // The agent is gone (a deploy removed it): every message still gets an answer, the apology.
    log.error('agent settings could not be loaded; turns end with the apology', {
      agent: input.agent,
      error: describe(err),
    });
    settings = unknownAgentSettings();
  }
  strategy = settings.strategy;
  if (!input.carried) {
    // A new run of a known conversation (after an idle timeout or close) picks up its pointer,
    // segment and counters from Postgres.
    const saved = await loadConversation(conversationId);
    if (saved) {
      state.turns = saved.turns;
      state.segment = saved.segment;
      state.lastResponseId = saved.lastResponseId;
      state.lastError = saved.lastError;
    }
  }
  upsertSearchAttributes([
    { key: TENANT, value: input.tenant },
    { key: CHANNEL, value: input.channel },
    { key: AGENT, value: input.agent },
    { key: STATUS, value: 'idle' },
  ]);

  let turnsThisRun = 0;
  for (;;) {
    for (;;) {
      const active = await condition(
        () => state.inbox.length > 0 || state.closeRequested || state.resetRequested,
        settings.idleTimeoutMs,
      );
      if (!active) break;
      if (state.resetRequested) {
        state.startNewSegment();
        await startSegment({ conversationId, segment: state.segment });
        setCurrentDetails(`Reset: transcript segment ${state.segment} started after turn ${state.turns}.`);
        continue;
      }
      if (state.inbox.length === 0) break; // close requested, nothing left to answer

      const count = await collectBurst(state, settings, (c) => (collecting = c));
      if (count === 'reset') continue; // the reset comes first: the burst is answered in the new segment
      const batch = state.takeBatch(count);
      running = true;
      upsertSearchAttributes([{ key: STATUS, value: 'running' }]);
      const outcome = await runTurn(conversationId, input, settings, state, batch);
      running = false;
      upsertSearchAttributes([{ key: STATUS, value: outcome }]);
      turnsThisRun += 1;

      // Continue-as-new once no update caller waits on a queued message (its handler must finish in
      // this run); messages that came as signals travel in the carried inbox, close and reset too.
      const due = workflowInfo().continueAsNewSuggested || turnsThisRun >= settings.continueAsNewAfterTurns;
      if (due) {
        const waitedOn = () => state.inbox.some((e) => awaitingReply.has(e.message.id));
        await condition(() => allHandlersFinished() || waitedOn());
        if (allHandlersFinished()) {
          const withReplyText = !patched('carry-replies-without-text');
          await continueAsNew<typeof conversationWorkflow>({
            ...input,
            carried: state.carry({ withReplyText }),
          });
        }
      }
    }

    // Ending: from here no update is admitted (the validator refuses it, the caller retries into a
    // new run), but a signal can still arrive while markClosed runs.
    closing = true;
    if (state.closeRequested) {
      await markClosed(conversationId);
      upsertSearchAttributes([{ key: STATUS, value: 'closed' }]);
    }
    await condition(() => allHandlersFinished() || state.inbox.length > 0);
    // The run ends only in an activation that sees an empty inbox and no waiting handler; a signal
    // that lands after it makes the server refuse the completion and the run sees it. A reset that
    // came while closing is acted on too (the next run would not know of it).
    const more = state.inbox.length > 0 || state.resetRequested;
    if (!more || !patched('answer-messages-that-arrive-while-closing')) break;
    closing = false;
  }
}

/**
 * Waits while a burst is still arriving; returns how many waiting messages form this turn, or
 * 'reset' when a reset came during the wait (it must apply before the burst is answered).
 */
async function collectBurst(
  state: ConversationState,
  settings: AgentSettings,
  setCollecting: (collecting: boolean) => void,
): Promise<number | 'reset'> {
  for (;;) {
    // Checked between waits, not inside them, so histories recorded before replay unchanged.
    if (state.resetRequested && patched('reset-before-burst')) {
      setCollecting(false);
      return 'reset';
    }
    const decision = decideBurst(state.arrivals(), workflowNow(), settings.burst);
    if (decision.kind === 'take' || state.closeRequested) {
      setCollecting(false);
      return state.inbox.length;
    }
    if (decision.kind === 'idle') throw new Error('collectBurst called with an empty inbox');
    setCollecting(true);
    const waiting = state.inbox.length;
    await condition(
      () => state.inbox.length !== waiting || state.closeRequested,
      decision.untilMs - workflowNow(),
    );
  }
}

type TurnOutcome = 'idle' | 'failed';

async function runTurn(
  conversationId: string,
  input: ConversationInput,
  settings: AgentSettings,
  state: ConversationState,
  batch: InboundMessage[],
): Promise<TurnOutcome> {
  const proposed = state.turns + 1;
  const key: ConversationKey = { tenant: input.tenant, channel: input.channel, externalId: input.externalId };
  let turn = proposed;
  let common = { conversationId, key, agent: input.agent, turn, segment: state.segment };
  const user = batch.find((m) => m.user)?.user ?? null;
  const pointerBefore = state.lastResponseId;

  try {
    const recorded = await recordTurnInput({
      ...common,
      now: new Date(workflowNow()).toISOString(),
      messages: batch,
    });
    // Postgres may know the proposed number is taken (a run ended mid-turn): answer in its turn.
    turn = recorded.turn ?? proposed;
    common = { ...common, turn };
    if (recorded.items === 0) {
      // Every message was answered by an earlier run: nothing to say twice.
      state.finishTurn(state.turns, { status: 'duplicate', turn: state.turns, text: null, responseId: null });
      return 'idle';
    }

    let step = 1;
    let rounds = 0;
    let previous = state.lastResponseId;
    let result = await modelStep({ ...common, step, previousResponseId: previous, mode: 'normal' }, state);
    while (result.functionCalls.length > 0) {
      const calls = result.functionCalls;
      previous = result.responseId;
      if (rounds >= settings.maxToolRounds) {
        // Out of rounds: answer the pending calls without running them, then make the model reply in words.
        await Promise.all(
          calls.map((c) =>
            skipTool({
              ...common,
              user,
              step,
              callId: c.callId,
              name: c.name,
              arguments: c.arguments,
              reason: 'the tool round limit was reached.',
            }),
          ),
        );
        step += 1;
        result = await modelStep({ ...common, step, previousResponseId: previous, mode: 'final' }, state);
        break;
      }
      rounds += 1;
      // The model may ask for several tools at once: run them concurrently, each its own activity.
      await Promise.all(
        calls.map((c) =>
          runOneTool(
            { ...common, user, step, callId: c.callId, name: c.name, arguments: c.arguments },
            settings,
          ),
        ),
      );
      step += 1;
      result = await modelStep({ ...common, step, previousResponseId: previous, mode: 'normal' }, state);
    }
    if (result.looksLikeToolJson) {
      step += 1;
      result = await modelStep(
        { ...common, step, previousResponseId: result.responseId, mode: 'rewrite' },
        state,
      );
    }

    state.lastResponseId = result.responseId;
    state.lastError = null;
    await finishTurn({ ...common, lastResponseId: result.responseId, error: null, apology: null });
    await deliver(conversationId, input, turn);
    state.finishTurn(turn, { status: 'answered', turn, text: result.text, responseId: result.responseId });
    setCurrentDetails(
      `Turn ${turn}: answered in ${step} model step(s), ${rounds} tool round(s)` +
        `${result.recovered ? `, recovered (${result.recovered})` : ''}. Messages: ${batch.length}.`,
    );
    return 'idle';
  } catch (err) {
    // The turn failed for good (a non-retryable error, or retries ran out). The user gets the
    // agent's apology, the error is recorded, and the pointer stays on the last good response so
    // the next message works.
    const error = describe(err);
    log.warn('turn failed', { turn, error });
    state.lastResponseId = pointerBefore;
    state.lastError = error;
    await finishTurn({ ...common, lastResponseId: pointerBefore, error, apology: settings.apologyText });
    await deliver(conversationId, input, turn);
    state.finishTurn(turn, { status: 'failed', turn, text: settings.apologyText, responseId: null });
    setCurrentDetails(`Turn ${turn}: failed, apology sent. ${error}`);
    return 'failed';
  }
}

async function modelStep(
  args: Parameters<Activities['callModel']>[0],
  state: ConversationState,
): Promise<CallModelResult> {
  const summary =
    args.mode === 'normal' ? `model step ${args.step}` : `model step ${args.step} (${args.mode})`;
  const result = await callModel.executeWithOptions({ ...modelOptions, summary }, [args]);
  state.addUsage(result.usage, result.recovered !== null);
  if (result.recovered)
    log.info('model call recovered from expired state', { turn: args.turn, recovery: result.recovered });
  return result;
}

async function runOneTool(
  args: Omit<Parameters<Activities['runTool']>[0], 'maxAttempts'>,
  settings: AgentSettings,
): Promise<void> {
  const policy = settings.toolPolicies[args.name] ?? { timeoutMs: 30_000, maxAttempts: 3 };
  try {
    await runTool.executeWithOptions(
      {
        startToCloseTimeout: policy.timeoutMs,
        // Settings recorded before the time bound have none: attempts alone bound those tools.
        ...(policy.maxDurationMs !== undefined ? { scheduleToCloseTimeout: policy.maxDurationMs } : {}),
        retry: {
          initialInterval: TOOL_RETRY.initialIntervalMs,
          maximumInterval: TOOL_RETRY.maximumIntervalMs,
          // None given (0): attempts are unlimited and the time bound decides.
          ...(policy.maxAttempts > 0 ? { maximumAttempts: policy.maxAttempts } : {}),
        },
        summary: `tool ${args.name}`,
      },
      [{ ...args, maxAttempts: policy.maxAttempts }],
    );
  } catch (err) {
    // Timed out on every attempt: the call still needs an output for the model to go on.
    await skipTool({ ...args, reason: `the tool ${args.name} did not finish (${describe(err)}).` });
  }
}

/**
 * Hands the reply to the channel. A channel that stays down past the delivery retries is recorded
 * in the ledger and the log; it does not fail the turn (the reply is in the transcript and the
 * update result) and never takes the workflow down.
 */
async function deliver(conversationId: string, input: ConversationInput, turn: number): Promise<void> {
  try {
    await deliverReply({ conversationId, externalId: input.externalId, channel: input.channel, turn });
  } catch (err) {
    log.error('delivery failed for good', { turn, error: describe(err) });
  }
}

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
