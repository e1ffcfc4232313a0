import { patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SavedConversation } from '../activities/transcript.js';
import type { AgentSettings } from '../agents/types.js';
import { bookkeeping } from './activityOptions.js';
import { SETTINGS_BY_ACTIVITY_PATCH, settingsFor } from './agents.js';
import type { ConversationState } from './conversationState.js';
import { HUMAN_MODE } from './searchAttributes.js';
import { workflowNow } from './time.js';

/**
 * A run's first step: its agent's settings and, for a new run of a known conversation (after an
 * idle timeout or a close), its pointer, segment, counters, agent and takeover from Postgres. A
 * continued run brought its state with it.
 *
 * Since the patch 'agent-settings-by-activity' this is one regular activity (openConversation), so
 * the run's first workflow task ends with an activity scheduled and no local activity marker.
 * Runs recorded before it read the settings with a local activity, then the saved state: they
 * replay the same commands here.
 */

const { loadConversation, openConversation } = proxyActivities<Activities>(bookkeeping);

export interface OpenedRun {
  settings: AgentSettings;
  /** The run took the patch: every later settings read is a regular activity's result too. */
  byActivity: boolean;
  /** Workflow time of the first settings read (runs before the patch re-read them after a second). */
  loadedAt: number;
}

export async function openRun(
  conversationId: string,
  input: { agent: string; carried?: unknown },
  state: ConversationState,
): Promise<OpenedRun> {
  const agent = state.agent ?? input.agent;
  const readSaved = !input.carried;
  if (patched(SETTINGS_BY_ACTIVITY_PATCH)) {
    const opened = await openConversation({ conversationId, agent, readSaved });
    if (opened.saved) restore(state, input.agent, opened.saved, { handoffs: true, takeover: true });
    return { settings: opened.settings, byActivity: true, loadedAt: workflowNow() };
  }
  let settings = await settingsFor(agent, false);
  const loadedAt = workflowNow();
  if (readSaved) {
    const saved = await loadConversation(conversationId);
    if (saved) {
      // Each behaviour came with its own patch; the calls stay where those runs made them.
      const handoffs = !!saved.agent && saved.agent !== input.agent && patched('agent-handoffs');
      if (handoffs) settings = await settingsFor(saved.agent!, false);
      const takeover = (!!saved.humanMode || saved.catchUpFromTurn != null) && patched('human-takeover');
      restore(state, input.agent, saved, { handoffs, takeover });
    }
  }
  return { settings, byActivity: false, loadedAt };
}

/** Pure but for the search attribute: the saved state applied to the run's state. */
function restore(
  state: ConversationState,
  routedAgent: string,
  saved: SavedConversation,
  apply: { handoffs: boolean; takeover: boolean },
): void {
  state.turns = saved.turns;
  state.segment = saved.segment;
  state.lastResponseId = saved.lastResponseId;
  state.lastError = saved.lastError;
  // The conversation keeps its agent (a handoff may have changed it), whatever routing says now.
  if (apply.handoffs && saved.agent && saved.agent !== routedAgent) state.agent = saved.agent;
  if (apply.takeover && (saved.humanMode || saved.catchUpFromTurn != null)) {
    state.takeover.humanMode = saved.humanMode ?? null;
    state.takeover.catchUpFromTurn = saved.catchUpFromTurn ?? null;
    if (saved.humanMode) upsertSearchAttributes([{ key: HUMAN_MODE, value: true }]);
  }
}
