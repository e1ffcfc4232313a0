import {
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { FunctionCallFact } from '../activities/model.js';
import type { AgentSettings } from '../agents/types.js';
import { bookkeeping } from './activityOptions.js';
import { AGENT } from './searchAttributes.js';
import { describe } from './turn.js';
import { unknownAgentSettings } from './unknownAgent.js';

/**
 * The conversation's agent, workflow side: its settings (read from the worker's registry, so a
 * deploy that changes the agent is seen at the next turn) and handoffs (the model called a transfer
 * tool: the conversation continues as the target agent).
 *
 * Since the patch below, settings come in regular activities' results: a run's opening step
 * (openConversation), each turn's first step (beginTurn) and `agentSettings` after a handoff. Runs
 * recorded before it read them with a local activity, whose marker a stopped worker can leave in
 * history ahead of an update the next task accepted first: replayed, the local activity resolves
 * before that update and the run fails with a nondeterminism error (the schedules drill found it).
 */
export const SETTINGS_BY_ACTIVITY_PATCH = 'agent-settings-by-activity';

// Short, local: reads the agent registry in the worker. Retried freely, it has no side effects.
const { loadAgentSettings } = proxyLocalActivities<Activities>({ startToCloseTimeout: '10 seconds' });
const { agentSettings } = proxyActivities<Activities>(bookkeeping);

/**
 * The agent's settings; for an agent the worker does not know, settings whose turns end with the
 * apology. `byActivity`: the run took the patch (a regular activity), else the local one.
 */
export async function settingsFor(agent: string, byActivity: boolean): Promise<AgentSettings> {
  if (byActivity) return agentSettings(agent);
  try {
    return await loadAgentSettings(agent);
  } catch (err) {
    // The agent is gone (a deploy removed it): every message still gets an answer, the apology.
    log.error('agent settings could not be loaded; turns end with the apology', {
      agent,
      error: describe(err),
    });
    return unknownAgentSettings();
  }
}

/** What the Agents SDK answers a second transfer in one response: only the first is followed. */
export const IGNORED_HANDOFF = 'Multiple handoffs detected, ignoring this one.';

export interface HandoffPlan {
  /** The agent the first transfer call hands to, or null when the model asked for none. */
  to: string | null;
  /** Later transfer calls of the same response: answered with IGNORED_HANDOFF, not run. */
  ignored: Set<string>;
}

/** Pure: which transfer of a step's function calls is followed (the first) and which are not. */
export function planHandoff(calls: readonly FunctionCallFact[]): HandoffPlan {
  const transfers = calls.filter((c) => c.handoff !== undefined);
  return { to: transfers[0]?.handoff ?? null, ignored: new Set(transfers.slice(1).map((c) => c.callId)) };
}

/** Switches the conversation to `to`: what operators see follows, and the target's settings apply. */
export async function handOff(
  from: string,
  to: string,
  turn: number,
  byActivity: boolean,
): Promise<AgentSettings> {
  upsertSearchAttributes([{ key: AGENT, value: to }]);
  setCurrentDetails(`Turn ${turn}: handed off from ${from} to ${to}.`);
  log.info('handoff', { turn, from, to });
  return settingsFor(to, byActivity);
}
