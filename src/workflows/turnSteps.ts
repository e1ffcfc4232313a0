import { ActivityFailure, log, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CallModelResult } from '../activities/model.js';
import type { RecordTurnInputResult } from '../activities/transcript.js';
import type { AgentSettings } from '../agents/types.js';
import { bookkeeping, deliveryOptions, finishAndDeliverOptions, modelOptions } from './activityOptions.js';

/**
 * How a turn's steps run (src/workflows/turn.ts decides what the steps are). Two ways, both
 * regular activities whose results are in history before the next step:
 *
 * - in steps: one activity per step (6 for a tool turn, 12 task hops); turns recorded before the
 *   patch replay this way;
 * - in fewer steps (patch 'turn-in-fewer-hops'): the input is recorded by the first model step and
 *   the turn is finished by its delivery step, so a tool turn is 4 activities (8 hops). Each
 *   combined activity is its parts one after the other, idempotent as they are: a retry records
 *   the same input again (resuming its turn), finds the recorded model call, finishes again and
 *   finds the ledger's claim.
 *
 * A turn in one workflow task (local activities) was built and measured on this branch too
 * (docs/benchmarks.md, "A turn in one hop"); it is not used: its worker-kill-tool and
 * temporal-restart drills left turns without a reply.
 */
export const FEWER_HOPS_PATCH = 'turn-in-fewer-hops';

type RecordInput = Parameters<Activities['recordTurnInput']>[0];
type ModelInput = Parameters<Activities['callModel']>[0];
type ToolInput = Parameters<Activities['runTool']>[0];
type SkipInput = Parameters<Activities['skipTool']>[0];
type FinishInput = Parameters<Activities['finishTurn']>[0];
type DeliveryInput = Parameters<Activities['deliverReply']>[0];

export interface Begun {
  recorded: RecordTurnInputResult;
  /** The first model step's result when it ran with the recording; absent: the turn makes it. */
  model?: CallModelResult | null;
  /** The first model step failed for good; thrown once the turn knows its number. */
  failure?: unknown;
  /** The agent's settings, read by the first step (absent in results recorded before that). */
  settings?: AgentSettings;
}

export interface TurnSteps {
  begin(record: RecordInput, first: Omit<ModelInput, 'turn'>): Promise<Begun>;
  model(args: ModelInput, summary: string): Promise<CallModelResult>;
  runTool(options: ActivityOptions, args: ToolInput): Promise<Awaited<ReturnType<Activities['runTool']>>>;
  skipTool(args: SkipInput): Promise<unknown>;
  /** Finishes the turn in Postgres, then hands the reply to the channel (never throws for a failed send). */
  finishAndDeliver(finish: FinishInput, delivery: DeliveryInput): Promise<void>;
}

const { recordTurnInput, finishTurn, runTool, skipTool } = proxyActivities<Activities>(bookkeeping);
const { callModel } = proxyActivities<Activities>(modelOptions);
const { deliverReply } = proxyActivities<Activities>(deliveryOptions);
const { beginTurn } = proxyActivities<Activities>(modelOptions);
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
  async begin(record, first) {
    try {
      return await beginTurn.executeWithOptions({ ...modelOptions, summary: 'model step 1' }, [
        { record, step: first },
      ]);
    } catch (err) {
      // The model call failed for good: the input is recorded (again: idempotent), and the turn,
      // knowing its number, fails with the apology.
      const recorded = await recordTurnInput(record);
      return { recorded, model: null, failure: err };
    }
  },
  model: inSteps.model,
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
