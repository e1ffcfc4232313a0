import type { AgentSettings } from '../agents/types.js';
import { NO_BURST } from './burst.js';

/**
 * Settings for a run whose agent the worker does not know (removed or renamed by a deploy). The run
 * still answers every message, with this apology, instead of failing or waiting forever; it ends
 * soon after the last one, so a deploy that brings the agent back is picked up by the next run.
 */
export const UNKNOWN_AGENT_APOLOGY =
  'Sorry, something went wrong on our side and I could not answer. Please try again in a moment.';

export function unknownAgentSettings(): AgentSettings {
  return {
    strategy: 'previous_response_id',
    burst: NO_BURST,
    maxToolRounds: 1,
    apologyText: UNKNOWN_AGENT_APOLOGY,
    continueAsNewAfterTurns: 500,
    idleTimeoutMs: 60_000,
    toolPolicies: {},
  };
}
