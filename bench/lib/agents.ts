import { tool } from '@openai/agents';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry, type AgentRegistry } from '../../src/agents/registry.js';

/**
 * The agents the benchmarks talk to. Shared by the bench runner (which names them) and the worker
 * process (which runs them), so both sides agree on names, tools and budgets.
 */
export const MODEL = 'gpt-5-mini';
export const INSTRUCTIONS = 'Be brief.';

/** The tool's answer, computed the same way on the Temporal path and on the direct path. */
export function weather(args: { city: string }): string {
  return JSON.stringify({ city: args.city, temp: 21 });
}

export const weatherTool = tool({
  name: 'get_weather',
  description: 'Weather in a city.',
  parameters: z.object({ city: z.string() }),
  strict: true,
  execute: (args) => weather(args),
});

export const AGENTS = {
  /** Turn overhead: one tool call per turn, chained. */
  tools: 'bench-tools',
  /** Throughput, history, worker memory, chained input bytes, expiry recovery (default 16k budget). */
  plain: 'bench-plain',
  /** Full-history resend: stateless with a budget no conversation here reaches. */
  stateless: 'bench-stateless',
} as const;

export function benchAgents(): AgentRegistry {
  return createRegistry([
    defineAgent({ name: AGENTS.tools, model: MODEL, instructions: INSTRUCTIONS, tools: [weatherTool] }),
    defineAgent({ name: AGENTS.plain, model: MODEL, instructions: INSTRUCTIONS }),
    defineAgent({
      name: AGENTS.stateless,
      model: MODEL,
      instructions: INSTRUCTIONS,
      strategy: 'stateless',
      historyTokenBudget: 10_000_000,
    }),
  ]);
}
