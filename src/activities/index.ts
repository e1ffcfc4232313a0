import { Context, log } from '@temporalio/activity';
import type OpenAI from 'openai';
import type { AgentRegistry } from '../agents/registry.js';
import type { MediaDeps } from '../media/resolve.js';
import type { Pool } from '../store/pool.js';
import { costOf } from '../usage/cost.js';
import {
  listMigrationUnits,
  migrateUnit,
  prepareMigrationSource,
  recordMigrationUnitFailure,
  seedOpenAIConversation,
} from './migration.js';
import { withErrorRecords } from './errorRecords.js';
import {
  closeForPurge,
  deleteConversationRuns,
  deleteOpenAIObjects,
  finishPurge,
  purgeStored,
  type PurgeInput,
} from './purge.js';
import { agentTemplate, markTurnRead } from './channelExtras.js';
import { sendReEngagementTemplate, type ReEngagementInput } from '../channels/whatsapp/reEngagement.js';
import { deliverReply, type ChannelSender, type DeliverReplyInput } from './delivery.js';
import { callModel, type CallModelInput, type ModelDeps } from './model.js';
import { runTool, skipTool, type RunToolInput } from './tools.js';
import {
  beginTurn,
  finishAndDeliver,
  modelStep,
  type BeginTurnInput,
  type ModelStepInput,
  type FinishAndDeliverInput,
  type TurnStepParts,
} from './turnSteps.js';
import { openConversation, settingsOrApology, type OpenConversationInput } from './agentSettings.js';
import { SEND_LEASE_MS } from '../workflows/activityOptions.js';
import { settleApproval, type SettleApprovalInput } from './approvals.js';
import {
  finishHumanTurn,
  recordHumanMode,
  recordOperatorMessage,
  type RecordHumanModeInput,
  type RecordOperatorMessageInput,
} from './takeover.js';
import {
  finishTurn,
  loadAgentSettings,
  loadConversation,
  loadReplyText,
  markClosed,
  recordTurnInput,
  startSegment,
  type FinishTurnInput,
  type RecordTurnInputInput,
} from './transcript.js';

export interface ActivityDeps {
  pool: Pool;
  openai: OpenAI;
  agents: AgentRegistry;
  /** Outbound senders by `senderKey(tenant, channel)`; a channel without one is answered through the API only. */
  senders?: ReadonlyMap<string, ChannelSender>;
  costOf?: ModelDeps['costOf'];
  /** Inbound media (store, downloaders, limits, transcription); without it media gets the media reply. */
  media?: MediaDeps;
  /** Stream model calls to subscribers; default on (ModelDeps.stream). */
  stream?: boolean;
}

/** Activities bound to their dependencies; the worker registers the returned object. */
export function createActivities(deps: ActivityDeps) {
  const senders = deps.senders ?? new Map<string, ChannelSender>();
  const recordInput = async (input: RecordTurnInputInput) => {
    const recorded = await recordTurnInput(deps, input);
    // At turn start, outside the transaction: the customer sees "read" and "typing...".
    if (recorded.items > 0) await markTurnRead(senders, input, log);
    return recorded;
  };
  // Failures reach tenants (lastError) sanitized; the raw text stays in error_records.
  const model = withErrorRecords(deps.pool, 'callModel', scopeOf, (input: CallModelInput) =>
    callModel(
      {
        ...deps,
        costOf: deps.costOf ?? ((m, u) => costOf(m, u)),
        ...(deps.media ? { mediaStore: deps.media.store } : {}),
      },
      input,
    ),
  );
  const deliverWithLease = (input: DeliverReplyInput, leaseMs: number) => {
    const templateFor = (conversationId: string) => agentTemplate(deps, conversationId);
    return deliverReply({ pool: deps.pool, senders, log, templateFor }, input, {
      attempt: Context.current().info.attempt,
      leaseMs,
    });
  };
  // The claim on a send lasts as long as Temporal lets the attempt run before it retries.
  const deliver = (input: DeliverReplyInput) =>
    deliverWithLease(input, Context.current().info.startToCloseTimeoutMs);
  const finish = (input: FinishTurnInput) => finishTurn(deps, input);
  const parts: TurnStepParts = {
    recordTurnInput: recordInput,
    callModel: model,
    finishTurn: finish,
    deliverReply: deliver,
    settingsFor: (agent) => settingsOrApology(deps.agents, agent),
    // A model step's attempt may run for minutes; a worker that dies in its send is found by the
    // missed heartbeat, and the retry must not wait out the whole step's timeout to send again.
    deliverInStep: (input) => deliverWithLease(input, SEND_LEASE_MS),
  };
  return {
    // Local, in runs recorded before the patch 'agent-settings-by-activity'; throws for an unknown agent.
    loadAgentSettings: async (agent: string) => loadAgentSettings(deps, agent),
    // Regular activities since that patch: an unknown agent gets the apology's settings.
    agentSettings: async (agent: string) => settingsOrApology(deps.agents, agent),
    openConversation: (input: OpenConversationInput) => openConversation(deps, input),
    loadConversation: (conversationId: string) => loadConversation(deps, conversationId),
    loadReplyText: (input: { conversationId: string; turn: number }) => loadReplyText(deps, input),
    recordTurnInput: recordInput,
    callModel: model,
    runTool: withErrorRecords(deps.pool, 'runTool', scopeOf, (input: RunToolInput) => runTool(deps, input)),
    skipTool: (input: Omit<RunToolInput, 'maxAttempts'> & { reason: string }) => skipTool(deps, input),
    deliverReply: deliver,
    sendReEngagementTemplate: (input: ReEngagementInput) =>
      sendReEngagementTemplate({ ...deps, senders, log }, input),
    finishTurn: finish,
    // A turn in fewer hops: the steps above, two at a time. Recording the input may download
    // media before the model call starts its own heartbeats.
    beginTurn: (input: BeginTurnInput) => withHeartbeats(() => beginTurn(parts, input)),
    // Since the patch 'finish-in-answering-step': a later model step that may finish the turn.
    modelStep: (input: ModelStepInput) => withHeartbeats(() => modelStep(parts, input)),
    finishAndDeliver: (input: FinishAndDeliverInput) => finishAndDeliver(parts, input),
    settleApproval: (input: SettleApprovalInput) => settleApproval(deps.pool, input),
    recordHumanMode: (input: RecordHumanModeInput) => recordHumanMode(deps, input),
    finishHumanTurn: (input: FinishTurnInput) => finishHumanTurn(deps, input),
    recordOperatorMessage: (input: RecordOperatorMessageInput) => recordOperatorMessage(deps, input),
    startSegment: (input: Parameters<typeof startSegment>[1]) => startSegment(deps, input),
    markClosed: (conversationId: string) => markClosed(deps, conversationId),
    prepareMigrationSource: (input: Parameters<typeof prepareMigrationSource>[1]) =>
      prepareMigrationSource(deps, input),
    listMigrationUnits: (input: Parameters<typeof listMigrationUnits>[1]) => listMigrationUnits(deps, input),
    migrateUnit: (input: Parameters<typeof migrateUnit>[1]) => migrateUnit(deps, input),
    recordMigrationUnitFailure: (input: Parameters<typeof recordMigrationUnitFailure>[1]) =>
      recordMigrationUnitFailure(deps, input),
    seedOpenAIConversation: (input: Parameters<typeof seedOpenAIConversation>[1]) =>
      seedOpenAIConversation(deps, input),
    closeForPurge: (input: PurgeInput) => closeForPurge(input),
    purgeStored: (input: PurgeInput & { purgeId: string }) => purgeStored(deps, input),
    deleteOpenAIObjects: (input: PurgeInput) => deleteOpenAIObjects(deps, input),
    deleteConversationRuns: (input: PurgeInput) => deleteConversationRuns(deps, input),
    finishPurge: (input: PurgeInput) => finishPurge(deps, input),
  };
}

async function withHeartbeats<T>(run: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const heartbeat = setInterval(() => context.heartbeat(), 2_000);
  try {
    return await run();
  } finally {
    clearInterval(heartbeat);
  }
}

const scopeOf = (input: { conversationId: string; key: { tenant: string } }) => ({
  tenant: input.key.tenant,
  conversationId: input.conversationId,
});

export type Activities = ReturnType<typeof createActivities>;
