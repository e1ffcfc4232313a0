import { ActivityFailure, log, patched, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CallModelResult } from '../activities/model.js';
import { TOOL_RETRY } from '../agents/toolPolicy.js';
import type { AgentSettings } from '../agents/types.js';
import { handOff, IGNORED_HANDOFF, planHandoff } from './agents.js';
import type { ConversationInput } from './conversation.js';
import type { ConversationState } from './conversationState.js';
import type { ConversationKey } from './ids.js';
import type { InboundMessage } from './messages.js';
import { workflowNow } from './time.js';
import { resolveApproval } from './approvalFlow.js';
import { approvalTimeoutMs } from './approvals.js';
import { noteTakeoverCalls } from './takeoverFlow.js';
import { leaveOutRedelivered } from './redelivered.js';
import type { FinishIfAnswered, ModelStepResult } from '../activities/turnSteps.js';
import {
  FEWER_HOPS_PATCH,
  FINISH_IN_ANSWERING_STEP_PATCH,
  inFewerSteps,
  inSteps,
  type TurnSteps,
} from './turnSteps.js';

// One turn: record the input, model steps and tool rounds, finish, deliver. The conversation
// workflow (conversation.ts) decides when a turn runs; this module decides what a turn does, and
// turnSteps.ts how its steps run (regular activities, or local ones in one workflow task).

export type TurnOutcome = 'idle' | 'failed';

/** The agent's settings as a turn starts; `byActivity`: the run took the patch 'agent-settings-by-activity'. */
export interface TurnSettings {
  settings: AgentSettings;
  byActivity: boolean;
}

export interface TurnResult {
  outcome: TurnOutcome;
  /** The settings the turn ended with: read at its start (by activity), or the target's after a handoff. */
  settings: AgentSettings;
}

export async function runTurn(
  conversationId: string,
  input: ConversationInput,
  atStart: TurnSettings,
  state: ConversationState,
  batch: InboundMessage[],
): Promise<TurnResult> {
  const { byActivity } = atStart;
  // A handoff mid-turn switches the agent, and with it the settings the rest of the turn uses.
  let settings = atStart.settings;
  const ended = (outcome: TurnOutcome): TurnResult => ({ outcome, settings });
  const proposed = state.turns + 1;
  const key: ConversationKey = { tenant: input.tenant, channel: input.channel, externalId: input.externalId };
  let turn = proposed;
  let common = { conversationId, key, agent: state.agent ?? input.agent, turn, segment: state.segment };
  const user = batch.find((m) => m.user)?.user ?? null;
  const pointerBefore = state.lastResponseId;
  // Turns recorded before the patch replay as the steps they were; new turns take fewer hops.
  const steps: TurnSteps = patched(FEWER_HOPS_PATCH) ? inFewerSteps : inSteps;
  const delivery = { conversationId, externalId: input.externalId, channel: input.channel };
  // The step whose answer ends the turn finishes it and sends the reply (turnSteps.ts).
  const finish = steps === inFewerSteps && patched(FINISH_IN_ANSWERING_STEP_PATCH) ? { delivery } : undefined;

  try {
    let step = 1;
    let rounds = 0;
    let previous = state.lastResponseId;
    // After a takeover the server-side state lacks the human turns: step 1 sends them (takeover.ts).
    const catchUp = state.takeover.catchUpFromTurn;
    const first = {
      conversationId,
      key,
      agent: common.agent,
      segment: state.segment,
      step,
      previousResponseId: previous,
      mode: 'normal' as const,
      ...(catchUp ? { catchUpFromTurn: catchUp } : {}),
    };
    const begun = await steps.begin(
      { ...common, now: new Date(workflowNow()).toISOString(), messages: batch },
      first,
      finish,
    );
    const recorded = begun.recorded;
    // The turn's first step read the settings as this worker defines them now.
    if (byActivity && begun.settings) settings = begun.settings;
    leaveOutRedelivered(state, recorded.duplicates);
    // Postgres may know the proposed number is taken (a run ended mid-turn): answer in its turn.
    turn = recorded.turn ?? proposed;
    common = { ...common, turn };
    if (recorded.items === 0) {
      // Every message was answered by an earlier run: nothing to say twice.
      state.finishTurn(state.turns, { status: 'duplicate', turn: state.turns, text: null, responseId: null });
      return ended('idle');
    }
    if (recorded.reply && patched('whatsapp-media')) {
      // Nothing the model can use (a video, an unsupported type, media not received): the agent's
      // configured reply is in the transcript already; deliver it without a model call.
      await steps.finishAndDeliver(
        { ...common, lastResponseId: state.lastResponseId, error: null, apology: null },
        { ...delivery, turn },
      );
      state.finishTurn(turn, {
        status: 'answered',
        turn,
        text: recorded.replyText ?? null,
        responseId: null,
      });
      setCurrentDetails(`Turn ${turn}: answered with the configured ${recorded.reply} reply.`);
      return ended('idle');
    }

    if (begun.failure !== undefined) throw begun.failure;
    let result = begun.model
      ? noteUsage(begun.model, state, turn)
      : await modelStep(steps, { ...first, turn }, state, finish);
    while (result.functionCalls.length > 0) {
      const calls = result.functionCalls;
      previous = result.responseId;
      if (rounds >= settings.maxToolRounds) {
        // Out of rounds: answer the pending calls without running them, then make the model reply in words.
        await Promise.all(
          calls.map((c) =>
            steps.skipTool({
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
        result = await modelStep(
          steps,
          { ...common, step, previousResponseId: previous, mode: 'final' },
          state,
          finish,
        );
        break;
      }
      rounds += 1;
      const handoff = calls.some((c) => c.handoff) && patched('agent-handoffs') ? planHandoff(calls) : null;
      noteTakeoverCalls(state, settings.takeoverTools, calls);
      // The model may ask for several tools at once: run them concurrently, each its own activity.
      // A transfer runs as a tool too: its output item records the handoff.
      await Promise.all(
        calls.map((c) => {
          const call = { ...common, user, step, callId: c.callId, name: c.name, arguments: c.arguments };
          return handoff?.ignored.has(c.callId)
            ? steps.skipTool({ ...call, reason: IGNORED_HANDOFF })
            : runOneTool(steps, call, settings, state);
        }),
      );
      if (handoff?.to) {
        settings = await handOff(common.agent, handoff.to, turn, byActivity);
        common = { ...common, agent: handoff.to };
        state.agent = handoff.to;
      }
      step += 1;
      result = await modelStep(
        steps,
        { ...common, step, previousResponseId: previous, mode: 'normal' },
        state,
        finish,
      );
    }
    if (result.looksLikeToolJson) {
      step += 1;
      result = await modelStep(
        steps,
        { ...common, step, previousResponseId: result.responseId, mode: 'rewrite' },
        state,
        finish,
      );
    }

    state.lastResponseId = result.responseId;
    state.lastError = null;
    state.takeover.caughtUp();
    // Finished by its answering step, unless that step's send failed: then with delivery's retries.
    if (!result.finished || result.finished.delivery === 'failed')
      await steps.finishAndDeliver(
        { ...common, lastResponseId: result.responseId, error: null, apology: null },
        { ...delivery, turn },
      );
    state.finishTurn(turn, { status: 'answered', turn, text: result.text, responseId: result.responseId });
    setCurrentDetails(
      `Turn ${turn}: answered in ${step} model step(s), ${rounds} tool round(s)` +
        `${result.recovered ? `, recovered (${result.recovered})` : ''}. Messages: ${batch.length}. Agent: ${common.agent}.`,
    );
    return ended('idle');
  } catch (err) {
    // The turn failed for good (a non-retryable error, or retries ran out). The user gets the
    // agent's apology, the error is recorded, and the pointer stays on the last good response so
    // the next message works.
    const error = describe(err);
    log.warn('turn failed', { turn, error });
    state.lastResponseId = pointerBefore;
    state.lastError = error;
    await steps.finishAndDeliver(
      { ...common, lastResponseId: pointerBefore, error, apology: settings.apologyText },
      { ...delivery, turn },
    );
    state.finishTurn(turn, { status: 'failed', turn, text: settings.apologyText, responseId: null });
    setCurrentDetails(`Turn ${turn}: failed, apology sent. ${error}`);
    return ended('failed');
  }
}

async function modelStep(
  steps: TurnSteps,
  args: Parameters<Activities['callModel']>[0],
  state: ConversationState,
  finish: FinishIfAnswered | undefined,
): Promise<ModelStepResult> {
  const summary =
    args.mode === 'normal' ? `model step ${args.step}` : `model step ${args.step} (${args.mode})`;
  return noteUsage(await steps.model(args, summary, finish), state, args.turn);
}

function noteUsage<R extends CallModelResult>(result: R, state: ConversationState, turn: number): R {
  state.addUsage(result.usage, result.recovered !== null);
  if (result.recovered)
    log.info('model call recovered from expired state', { turn, recovery: result.recovered });
  return result;
}

async function runOneTool(
  steps: TurnSteps,
  args: Omit<Parameters<Activities['runTool']>[0], 'maxAttempts'>,
  settings: AgentSettings,
  state: ConversationState,
): Promise<void> {
  const policy = settings.toolPolicies[args.name] ?? { timeoutMs: 30_000, maxAttempts: 3 };
  try {
    const { status } = await steps.runTool(
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
      {
        ...args,
        maxAttempts: policy.maxAttempts,
        approvalTimeoutMs: approvalTimeoutMs(settings, args.name),
      },
    );
    // Its needsApproval said so: the call waits for an operator, and runs only if approved.
    if (status === 'needs_approval' && patched('tool-approvals'))
      await resolveApproval(args, settings, state, () =>
        runOneTool(steps, { ...args, approved: true }, settings, state),
      );
  } catch (err) {
    // Timed out on every attempt: the call still needs an output for the model to go on.
    await steps.skipTool({ ...args, reason: `the tool ${args.name} did not finish (${describe(err)}).` });
  }
}

export function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
