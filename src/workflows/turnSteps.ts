import {
  ActivityFailure,
  ApplicationFailure,
  log,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CallModelResult } from '../activities/model.js';
import type { RecordTurnInputResult } from '../activities/transcript.js';
import type { AgentSettings } from '../agents/types.js';
import {
  bookkeeping,
  DEFAULT_LOCAL_MODEL_CALL_MS,
  deliveryOptions,
  localBookkeeping,
  localFinishOptions,
  localModelOptions,
  modelOptions,
} from './activityOptions.js';

/**
 * How a turn's steps run (src/workflows/turn.ts decides what the steps are). Two ways:
 *
 * - in steps: each a regular activity, one task hop per step (12 for a tool turn); turns recorded
 *   before the patch replay this way;
 * - in one hop (patch 'turn-in-one-hop-v2'): the same steps as local activities, which the worker
 *   runs inside the workflow task that took the message, the input recorded by the first model step
 *   and the turn finished by the delivery step. Each step is idempotent in Postgres (message ids,
 *   the claimed model-call record, the tool's key, the delivery ledger): when a worker dies
 *   mid-turn, the task times out and the next worker runs the steps again and finds what the first
 *   recorded. A model call slower than the agent's `localModelCallMs`, a failed send, or a step
 *   that keeps failing goes to the regular activity with its heartbeats and long retries. Waits
 *   (an approval, a burst) are conditions and timers, outside any local activity: the task ends
 *   while they wait.
 */
export const ONE_HOP_PATCH = 'turn-in-one-hop-v2';

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
}

export interface TurnSteps {
  readonly oneHop: boolean;
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
const local = proxyLocalActivities<Activities>(localBookkeeping);

/** The turn as regular activities: exactly the commands turns recorded before the patch issued. */
export const inSteps: TurnSteps = {
  oneHop: false,
  begin: async (record) => ({ recorded: await recordTurnInput(record) }),
  model: (args, summary) => callModel.executeWithOptions({ ...modelOptions, summary }, [args]),
  runTool: (options, args) => runTool.executeWithOptions(options, [args]),
  skipTool: (args) => skipTool(args),
  async finishAndDeliver(finish, delivery) {
    await finishTurn(finish);
    await deliver(delivery);
  },
};

/** The turn as local activities inside one workflow task, with the regular activities as fallback. */
export function inOneHop(settings: AgentSettings): TurnSteps {
  const budget = settings.localModelCallMs ?? DEFAULT_LOCAL_MODEL_CALL_MS;
  const regularModel = (args: ModelInput, summary: string) =>
    callModel.executeWithOptions({ ...modelOptions, summary }, [args]);
  return {
    oneHop: true,
    async begin(record, first) {
      let failure: unknown;
      if (budget > 0) {
        try {
          return await local.beginTurn.executeWithOptions(
            { ...localModelOptions(budget), summary: 'model step 1' },
            [{ record, step: first }],
          );
        } catch (err) {
          failure = err;
        }
      }
      // Slow or failing: the input is recorded again (idempotent: it resumes the same turn) and,
      // unless the failure is final, the call is made as the regular activity.
      const recorded = await local.recordTurnInput(record);
      if (recorded.items === 0 || recorded.reply) return { recorded, model: null };
      if (failure !== undefined && !handOver(failure)) return { recorded, model: null, failure };
      try {
        return {
          recorded,
          model: await regularModel({ ...first, turn: recorded.turn ?? record.turn }, 'model step 1'),
        };
      } catch (err) {
        return { recorded, model: null, failure: err };
      }
    },
    async model(args, summary) {
      if (budget > 0) {
        try {
          return await local.callModel.executeWithOptions({ ...localModelOptions(budget), summary }, [args]);
        } catch (err) {
          if (!handOver(err)) throw err;
        }
      }
      return regularModel(args, summary);
    },
    runTool: (options, args) => local.runTool.executeWithOptions(options, [args]),
    skipTool: (args) => local.skipTool(args),
    async finishAndDeliver(finish, delivery) {
      let sent = false;
      try {
        const result = await local.finishAndDeliver.executeWithOptions(localFinishOptions, [
          { finish, delivery },
        ]);
        sent = result.delivery !== 'failed';
      } catch {
        await finishTurn(finish);
      }
      // Not sent here (a channel down, or a claim held by an attempt that died): the regular
      // activity retries until the claim runs out, then sends again under the same key.
      if (!sent) await deliver(delivery);
    },
  };
}

/** A step the local attempt could not finish and the regular activity may: anything but a final no. */
function handOver(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return !(cause instanceof ApplicationFailure && cause.nonRetryable);
}

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
