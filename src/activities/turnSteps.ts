import type { CallModelInput, CallModelResult } from './model.js';
import type { DeliverReplyInput, DeliverReplyResult } from './delivery.js';
import type { FinishTurnInput, RecordTurnInputInput, RecordTurnInputResult } from './transcript.js';

/**
 * Two steps of a turn in one (src/workflows/turnSteps.ts, a turn in one hop): each is the existing
 * activities one after the other, so each stays idempotent exactly as its parts are. The parts
 * come in bound to their dependencies.
 */
export interface TurnStepParts {
  recordTurnInput(input: RecordTurnInputInput): Promise<RecordTurnInputResult>;
  callModel(input: CallModelInput): Promise<CallModelResult>;
  finishTurn(input: FinishTurnInput): Promise<void>;
  deliverReply(input: DeliverReplyInput): Promise<DeliverReplyResult>;
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
}

/** Records the turn's input, then makes its first model call: one step instead of two. */
export async function beginTurn(parts: TurnStepParts, input: BeginTurnInput): Promise<BeginTurnResult> {
  const recorded = await parts.recordTurnInput(input.record);
  if (recorded.items === 0 || recorded.reply) return { recorded, model: null };
  const turn = recorded.turn ?? input.record.turn;
  return { recorded, model: await parts.callModel({ ...input.step, turn }) };
}

export interface FinishAndDeliverResult {
  /** 'failed': the send did not go through here; the workflow hands it to the regular activity. */
  delivery: DeliverReplyResult['status'] | 'failed';
}

/**
 * Finishes the turn in Postgres, then makes one delivery attempt. A failed send (the channel is
 * down, or another attempt holds a live claim on it) is not retried here: that would hold the
 * workflow task, so the workflow hands it to the regular delivery activity and its long retries;
 * the ledger keeps the send once either way.
 */
export async function finishAndDeliver(
  parts: TurnStepParts,
  input: { finish: FinishTurnInput; delivery: DeliverReplyInput },
): Promise<FinishAndDeliverResult> {
  await parts.finishTurn(input.finish);
  try {
    return { delivery: (await parts.deliverReply(input.delivery)).status };
  } catch {
    return { delivery: 'failed' };
  }
}
