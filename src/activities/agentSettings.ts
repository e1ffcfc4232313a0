import { log } from '@temporalio/activity';
import { agentSettings } from '../agents/define.js';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentSettings } from '../agents/types.js';
import { unknownAgentSettings } from '../workflows/unknownAgent.js';
import { loadConversation, type SavedConversation, type TranscriptDeps } from './transcript.js';

/**
 * The agent's settings as the conversation workflow receives them: in regular activities' results
 * (a run's opening step, each turn's first step, a handoff), never from a local activity, whose
 * marker a stopped worker can leave in history ahead of an update the next task accepted first
 * (docs/deploy.md, "A restart in one narrow window").
 */

/** The settings of `agent`; for an agent this worker does not know, settings whose turns end with the apology. */
export function settingsOrApology(agents: AgentRegistry, agent: string): AgentSettings {
  const definition = agents.get(agent);
  if (definition) return agentSettings(definition);
  // The agent is gone (a deploy removed it): every message still gets an answer, the apology.
  log.error('agent settings could not be loaded; turns end with the apology', { agent });
  return unknownAgentSettings();
}

export interface OpenConversationInput {
  conversationId: string;
  /** The agent the run starts with (routing's, or the one a continued run carries). */
  agent: string;
  /** False for a continued run: its state came with it. */
  readSaved: boolean;
}

export interface OpenedConversation {
  saved: SavedConversation | null;
  /** For the saved agent when there is one (a handoff outlives the run), else for `agent`. */
  settings: AgentSettings;
}

/** What a new run needs before its first turn, in one step: its saved state and its agent's settings. */
export async function openConversation(
  deps: TranscriptDeps,
  input: OpenConversationInput,
): Promise<OpenedConversation> {
  const saved = input.readSaved ? await loadConversation(deps, input.conversationId) : null;
  return { saved, settings: settingsOrApology(deps.agents, saved?.agent || input.agent) };
}
