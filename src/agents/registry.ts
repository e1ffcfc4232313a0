import { ApplicationFailure } from '@temporalio/common';
import { conciergeAgent } from './concierge/index.js';
import { defineAgent } from './define.js';
import { withHandoffTools } from './handoff.js';
import type { AgentDefinition } from './types.js';

/**
 * Agents are defined in code and looked up by name; the workflow carries only the name, so an
 * agent's instructions or tools can change between turns without touching running workflows.
 */
export type AgentRegistry = ReadonlyMap<string, AgentDefinition>;

export const DEFAULT_AGENT = 'concierge';

/** Checks the agents' handoffs (start-up fails naming an unknown target) and adds their transfer tools. */
export function createRegistry(agents: AgentDefinition[]): AgentRegistry {
  return new Map(withHandoffTools(agents).map((a) => [a.name, a]));
}

export function defaultAgents(model: string): AgentRegistry {
  return createRegistry([
    defineAgent({
      name: 'assistant',
      model,
      instructions: 'You are a helpful assistant for a business. Answer briefly and politely.',
    }),
    conciergeAgent(model),
  ]);
}

/** The failure type of a lookup of an agent this worker does not know (removed, or renamed, by a deploy). */
export const UNKNOWN_AGENT = 'UnknownAgent';

/**
 * Retrying cannot make an agent appear, so an unknown name fails at once (non-retryable): the turn
 * ends with the apology instead of retrying forever.
 */
export function getAgent(registry: AgentRegistry, name: string): AgentDefinition {
  const agent = registry.get(name);
  if (!agent) {
    // The names of the others stay out: they may be other tenants' agents, and this text reaches tenants.
    throw ApplicationFailure.nonRetryable(
      `Unknown agent "${name}": this worker does not define it (removed or renamed by a deploy?).`,
      UNKNOWN_AGENT,
    );
  }
  return agent;
}
