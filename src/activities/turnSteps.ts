import type { AgentSettings } from '../agents/types.js';
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
}

export interface BeginTurnInput {
  record: RecordTurnInputInput;
  /** The first model step, without its turn (the recorded input decides it). */
  step: Omit<CallModelInput, 'turn'>;
}

export interface BeginTurnResult {
  recorded: RecordTurnInputResult;
  /** Null when the turn needs no model call: nothing new to answer, or the configured reply answers. */
  model: CallModelResult | null;
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
  const turn = recorded.turn ?? input.record.turn;
  return { recorded, model: await parts.callModel({ ...input.step, turn }), settings };
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
