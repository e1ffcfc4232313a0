import { tool, type FunctionTool } from '@openai/agents';
import { z } from 'zod';
import type { AgentDefinition, ToolContext } from './types.js';

/**
 * Handoffs as the Agents SDK has them: the model of an agent that may hand over sees one tool per
 * target, `transfer_to_<name>`, without parameters; calling it returns `{"assistant":"<name>"}`
 * (the tool output item records the handoff), and the runtime runs the next step as the target.
 * Worker side only (it builds tools); the workflow acts on the `handoff` fact of a function call.
 */

/** `transfer_to_<name>`, with the name made a valid function name (the SDK's rule). */
export function transferToolName(agent: string): string {
  return `transfer_to_${agent.replace(/[^a-zA-Z0-9]/g, '_')}`;
}

/** The output the model sees for a transfer: the SDK's transfer message. */
export function transferMessage(agent: string): string {
  return JSON.stringify({ assistant: agent });
}

/** The target of a transfer tool this agent offers, or undefined for any other tool. */
export function handoffTarget(agent: AgentDefinition, toolName: string): string | undefined {
  return (agent.handoffs ?? []).find((target) => transferToolName(target) === toolName);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function transferTool(target: AgentDefinition): FunctionTool<ToolContext, any, any> {
  return tool({
    name: transferToolName(target.name),
    description:
      `Handoff to the ${target.name} agent to handle the request. ${target.handoffDescription ?? ''}`.trim(),
    parameters: z.object({}),
    strict: true,
    execute: () => transferMessage(target.name),
  });
}

/**
 * Every agent with its transfer tools added, after checking what would fail at a turn: a target
 * that is not defined, a transfer tool that clashes with one of the agent's own tools, a target
 * that talks to the model another way (one transcript cannot continue under another strategy).
 */
export function withHandoffTools(agents: readonly AgentDefinition[]): AgentDefinition[] {
  const byName = new Map(agents.map((a) => [a.name, a]));
  const problems: string[] = [];
  for (const name of new Set(agents.map((a) => a.name))) {
    if (agents.filter((a) => a.name === name).length > 1)
      problems.push(`the agent "${name}" is defined twice`);
  }
  for (const agent of agents) {
    for (const targetName of agent.handoffs ?? []) {
      const target = byName.get(targetName);
      const where = `Agent "${agent.name}" hands off to "${targetName}"`;
      if (!target) {
        problems.push(`${where}, which is not defined`);
        continue;
      }
      if (target.strategy !== agent.strategy || target.provider !== agent.provider)
        problems.push(
          `${where}, which runs ${target.provider}/${target.strategy}, not ${agent.provider}/${agent.strategy}`,
        );
      if (agent.tools.some((t) => t.name === transferToolName(targetName)))
        problems.push(`${where}, but it has its own tool named ${transferToolName(targetName)}`);
    }
  }
  if (problems.length) throw new Error(`Invalid agents: ${problems.join('; ')}`);
  return agents.map((agent) =>
    agent.handoffs?.length
      ? { ...agent, tools: [...agent.tools, ...agent.handoffs.map((t) => transferTool(byName.get(t)!))] }
      : agent,
  );
}
