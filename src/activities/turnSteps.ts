import type { AgentSettings } from '../agents/types.js';
import { answerEndsTurn } from '../workflows/finalAnswer.js';
import type { CallModelInput, CallModelResult } from './model.js';
import type { DeliverReplyInput, DeliverReplyResult } from './delivery.js';
import type { FinishTurnInput, RecordTurnInputInput, RecordTurnInputResult } from './transcript.js';

/**
 * Two steps of a turn in one (src/workflows/turnSteps.ts, patch 'turn-in-fewer-hops'): each is the
 * existing activities one after the other, so each stays idempotent exactly as its parts are. The
 * parts come in bound to their dependencies.
 */
export interface TurnStepParts {
  recordTurnInput(input: RecordTurnInputInput): Promise<RecordTurnInputResult>;
  callModel(input: CallModelInput): Promise<CallModelResult>;
  finishTurn(input: FinishTurnInput): Promise<void>;
  deliverReply(input: DeliverReplyInput): Promise<DeliverReplyResult>;
  /** The agent's settings as this worker defines them now (src/activities/agentSettings.ts). */
  settingsFor(agent: string): AgentSettings;
  /** deliverReply for a send made inside a model step: its claim lasts SEND_LEASE_MS, not the step's timeout. */
  deliverInStep(input: DeliverReplyInput): Promise<DeliverReplyResult>;
}

/**
 * Asked of a model step since the patch 'finish-in-answering-step': if its answer ends the turn
 * (answerEndsTurn, the rule turn.ts follows), finish the turn and send the reply in the same step,
 * one activity and two task hops fewer. A failed send is left to the workflow's finishAndDeliver,
 * with delivery's retries (finishing again is idempotent, the ledger knows what was sent).
 */
export interface FinishIfAnswered {
  delivery: Omit<DeliverReplyInput, 'turn'>;
}

/** A model step's result, and what the step did with a final answer when asked to finish. */
export interface ModelStepResult extends CallModelResult {
  /** Present when the step finished the turn: how its send went ('failed': the workflow sends again). */
  finished?: FinishAndDeliverResult;
}

export interface ModelStepInput {
  step: CallModelInput;
  finish?: FinishIfAnswered;
}

/** One model step; with `finish`, an answer that ends the turn is finished and sent by it too. */
export async function modelStep(parts: TurnStepParts, input: ModelStepInput): Promise<ModelStepResult> {
  return finishIfAnswered(parts, input.step, await parts.callModel(input.step), input.finish);
}

async function finishIfAnswered(
  parts: TurnStepParts,
  step: CallModelInput,
  result: CallModelResult,
  finish: FinishIfAnswered | undefined,
): Promise<ModelStepResult> {
  if (!finish || !answerEndsTurn(step.mode, result)) return result;
  const { conversationId, key, agent, turn, segment } = step;
  const finished = await finishAndDeliver(
    { ...parts, deliverReply: parts.deliverInStep },
    {
      finish: {
        conversationId,
        key,
        agent,
        turn,
        segment,
        lastResponseId: result.responseId,
        error: null,
        apology: null,
      },
      delivery: { ...finish.delivery, turn },
    },
  );
  return { ...result, finished };
}

export interface BeginTurnInput {
  record: RecordTurnInputInput;
  /** The first model step, without its turn (the recorded input decides it). */
  step: Omit<CallModelInput, 'turn'>;
  finish?: FinishIfAnswered;
}

export interface BeginTurnResult {
  recorded: RecordTurnInputResult;
  /** Null when the turn needs no model call: nothing new to answer, or the configured reply answers. */
  model: ModelStepResult | null;
  /**
   * The turn's agent's settings, read at the turn's start: a deploy that changed the agent is seen
   * by this turn. Absent in results recorded before the patch 'agent-settings-by-activity'.
   */
  settings?: AgentSettings;
}

/** Records the turn's input, then makes its first model call: one step instead of two. */
export async function beginTurn(parts: TurnStepParts, input: BeginTurnInput): Promise<BeginTurnResult> {
  const settings = parts.settingsFor(input.record.agent);
  const recorded = await parts.recordTurnInput(input.record);
  if (recorded.items === 0 || recorded.reply) return { recorded, model: null, settings };
  const step = { ...input.step, turn: recorded.turn ?? input.record.turn };
  const model = await finishIfAnswered(parts, step, await parts.callModel(step), input.finish);
  return { recorded, model, settings };
}

export interface FinishAndDeliverInput {
  finish: FinishTurnInput;
  delivery: DeliverReplyInput;
  /** Throw a failed send, for Temporal to retry the activity (finishing again is idempotent). */
  retrySend?: boolean;
}

export interface FinishAndDeliverResult {
  /** 'failed': the send did not go through and `retrySend` was not set. */
  delivery: DeliverReplyResult['status'] | 'failed';
}

/** Finishes the turn in Postgres, then hands its reply to the channel through the ledger. */
export async function finishAndDeliver(
  parts: TurnStepParts,
  input: FinishAndDeliverInput,
): Promise<FinishAndDeliverResult> {
  await parts.finishTurn(input.finish);
  try {
    return { delivery: (await parts.deliverReply(input.delivery)).status };
  } catch (err) {
    if (input.retrySend) throw err;
    return { delivery: 'failed' };
  }
}
