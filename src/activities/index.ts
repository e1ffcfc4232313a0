import type OpenAI from 'openai';
import type { AgentRegistry } from '../agents/registry.js';
import type { Pool } from '../store/pool.js';
import { costOf } from '../usage/cost.js';
import { deliverReply, type ChannelSender, type DeliverReplyInput } from './delivery.js';
import { callModel, type CallModelInput, type ModelDeps } from './model.js';
import { runTool, skipTool, type RunToolInput } from './tools.js';
import {
  finishTurn,
  loadAgentSettings,
  loadConversation,
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
  /** Outbound senders by channel name; a channel without one is answered through the API only. */
  senders?: ReadonlyMap<string, ChannelSender>;
  costOf?: ModelDeps['costOf'];
}

/** Activities bound to their dependencies; the worker registers the returned object. */
export function createActivities(deps: ActivityDeps) {
  const senders = deps.senders ?? new Map<string, ChannelSender>();
  return {
    loadAgentSettings: async (agent: string) => loadAgentSettings(deps, agent),
    loadConversation: (conversationId: string) => loadConversation(deps, conversationId),
    recordTurnInput: (input: RecordTurnInputInput) => recordTurnInput(deps, input),
    callModel: (input: CallModelInput) =>
      callModel({ ...deps, costOf: deps.costOf ?? ((m, u) => costOf(m, u)) }, input),
    runTool: (input: RunToolInput) => runTool(deps, input),
    skipTool: (input: Omit<RunToolInput, 'maxAttempts'> & { reason: string }) => skipTool(deps, input),
    deliverReply: (input: DeliverReplyInput) => deliverReply({ pool: deps.pool, senders }, input),
    finishTurn: (input: FinishTurnInput) => finishTurn(deps, input),
    startSegment: (input: { conversationId: string; segment: number }) => startSegment(deps, input),
    markClosed: (conversationId: string) => markClosed(deps, conversationId),
  };
}

export type Activities = ReturnType<typeof createActivities>;
