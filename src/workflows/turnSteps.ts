import { ActivityFailure, log, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { FinishIfAnswered, ModelStepResult } from '../activities/turnSteps.js';
import type { RecordTurnInputResult } from '../activities/transcript.js';
import type { AgentSettings } from '../agents/types.js';
import { bookkeeping, deliveryOptions, finishAndDeliverOptions, modelOptions } from './activityOptions.js';

/**
 * How a turn's steps run (src/workflows/turn.ts decides what the steps are). Three ways, all
 * regular activities whose results are in history before the next step:
 *
 * - in steps: one activity per step (6 for a tool turn, 12 task hops); turns recorded before the
 *   patch replay this way;
 * - in fewer steps (patch 'turn-in-fewer-hops'): the input is recorded by the first model step and
 *   the turn is finished by its delivery step, so a tool turn is 4 activities (8 hops). Each
 *   combined activity is its parts one after the other, idempotent as they are: a retry records
 *   the same input again (resuming its turn), finds the recorded model call, finishes again and
 *   finds the ledger's claim;
 * - and since 'finish-in-answering-step', the model step whose answer ends the turn finishes it and
 *   sends the reply: a plain turn is 1 activity (2 hops), a tool turn 3 (6 hops). A failed send
 *   falls back to finishAndDeliver with delivery's retries.
 *
 * Local activities are not used: a turn in one workflow task, and one whose later steps were local,
 * were built and measured (docs/benchmarks.md, "A turn in fewer hops"). The first lost turns in the
 * worker-kill-tool and temporal-restart drills; both let an update arrive in a task that local
 * steps hold open, which fails with the task on a worker restart, and leave local activity markers
 * that a stopped worker can record ahead of an update (the nondeterminism in runOpening.ts).
 */
export const FEWER_HOPS_PATCH = 'turn-in-fewer-hops';
/**
 * In fewer steps, since this patch: the model step whose answer ends the turn finishes it and sends
 * the reply (src/activities/turnSteps.ts), so a plain turn is one activity and a tool turn three.
 */
export const FINISH_IN_ANSWERING_STEP_PATCH = 'finish-in-answering-step';

type RecordInput = Parameters<Activities['recordTurnInput']>[0];
type ModelInput = Parameters<Activities['callModel']>[0];
type ToolInput = Parameters<Activities['runTool']>[0];
type SkipInput = Parameters<Activities['skipTool']>[0];
type FinishInput = Parameters<Activities['finishTurn']>[0];
type DeliveryInput = Parameters<Activities['deliverReply']>[0];

export interface Begun {
  recorded: RecordTurnInputResult;
  /** The first model step's result when it ran with the recording; absent: the turn makes it. */
  model?: ModelStepResult | null;
  /** The first model step failed for good; thrown once the turn knows its number. */
  failure?: unknown;
  /** The agent's settings, read by the first step (absent in results recorded before that). */
  settings?: AgentSettings;
}

export interface TurnSteps {
  /** `finish`: the step finishes and sends the turn if its answer ends it (in fewer steps only). */
  begin(record: RecordInput, first: Omit<ModelInput, 'turn'>, finish?: FinishIfAnswered): Promise<Begun>;
  model(args: ModelInput, summary: string, finish?: FinishIfAnswered): Promise<ModelStepResult>;
  runTool(options: ActivityOptions, args: ToolInput): Promise<Awaited<ReturnType<Activities['runTool']>>>;
  skipTool(args: SkipInput): Promise<unknown>;
  /** Finishes the turn in Postgres, then hands the reply to the channel (never throws for a failed send). */
  finishAndDeliver(finish: FinishInput, delivery: DeliveryInput): Promise<void>;
}

const { recordTurnInput, finishTurn, runTool, skipTool } = proxyActivities<Activities>(bookkeeping);
const { callModel } = proxyActivities<Activities>(modelOptions);
const { deliverReply } = proxyActivities<Activities>(deliveryOptions);
const { beginTurn, modelStep } = proxyActivities<Activities>(modelOptions);
const { finishAndDeliver } = proxyActivities<Activities>(finishAndDeliverOptions);

/** The turn as regular activities: exactly the commands turns recorded before the patch issued. */
export const inSteps: TurnSteps = {
  begin: async (record) => ({ recorded: await recordTurnInput(record) }),
  model: (args, summary) => callModel.executeWithOptions({ ...modelOptions, summary }, [args]),
  runTool: (options, args) => runTool.executeWithOptions(options, [args]),
  skipTool: (args) => skipTool(args),
  async finishAndDeliver(finish, delivery) {
    await finishTurn(finish);
    await deliver(delivery);
  },
};

/** The input recorded by the first model step, the turn finished by its delivery step. */
export const inFewerSteps: TurnSteps = {
  async begin(record, first, finish) {
    try {
      return await beginTurn.executeWithOptions({ ...modelOptions, summary: 'model step 1' }, [
        { record, step: first, ...(finish ? { finish } : {}) },
      ]);
    } catch (err) {
      // The model call failed for good: the input is recorded (again: idempotent), and the turn,
      // knowing its number, fails with the apology.
      const recorded = await recordTurnInput(record);
      return { recorded, model: null, failure: err };
    }
  },
  model: (args, summary, finish) =>
    finish
      ? modelStep.executeWithOptions({ ...modelOptions, summary }, [{ step: args, finish }])
      : inSteps.model(args, summary),
  runTool: inSteps.runTool,
  skipTool: inSteps.skipTool,
  async finishAndDeliver(finish, delivery) {
    try {
      await finishAndDeliver({ finish, delivery, retrySend: true });
    } catch (err) {
      // The channel stayed down past the delivery retries: the turn is finished all the same.
      await finishTurn(finish);
      log.error('delivery failed for good', { turn: delivery.turn, error: describeFailure(err) });
    }
  },
};

/**
 * Hands the reply to the channel. A channel that stays down past the delivery retries is recorded
 * in the ledger and the log; it does not fail the turn (the reply is in the transcript and the
 * update result) and never takes the workflow down.
 */
async function deliver(input: DeliveryInput): Promise<void> {
  try {
    await deliverReply(input);
  } catch (err) {
    log.error('delivery failed for good', { turn: input.turn, error: describeFailure(err) });
  }
}

export function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
