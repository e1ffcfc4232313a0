/**
 * Agents are defined in code and looked up by name; the workflow carries only the name, so changing
 * an agent's instructions takes effect on the next turn without touching running workflows.
 */
export interface AgentDefinition {
  name: string;
  model: string;
  instructions: string;
}

export type AgentRegistry = ReadonlyMap<string, AgentDefinition>;

export const DEFAULT_AGENT = 'assistant';

export function defaultAgents(model: string): AgentRegistry {
  return new Map([
    [
      DEFAULT_AGENT,
      {
        name: DEFAULT_AGENT,
        model,
        instructions: 'You are a helpful assistant for a business. Answer briefly and politely.',
      },
    ],
  ]);
}

export function getAgent(registry: AgentRegistry, name: string): AgentDefinition {
  const agent = registry.get(name);
  if (!agent) throw new Error(`Unknown agent "${name}". Known agents: ${[...registry.keys()].join(', ')}`);
  return agent;
}
