import type { FunctionTool } from '@openai/agents';
import { z } from 'zod';
import { channelProblems, channelsSchema, type ChannelsInput, type ProjectChannels } from './channels.js';
import { createRegistry, type AgentRegistry } from '../agents/registry.js';
import { routingProblems, routingSchema, toRouting, type Routing } from '../agents/routing.js';
import type { AgentDefinition } from '../agents/types.js';

/**
 * The shape of a project's threadline.config.ts and its checks. Context: Node (the CLI, a worker or
 * API process, the config file itself); never workflow code.
 */

export interface ThreadlineConfig {
  /** The agents this deployment runs, each made by defineAgent(). */
  agents: AgentDefinition[];
  /** The agent that answers new conversations; default: the first of `agents`. */
  defaultAgent?: string;
  /**
   * Which agent answers which tenant, channel or WhatsApp number, and which agents a tenant may pick
   * (docs/agents.md); it replaces AGENT_ROUTING. Its default agent, if unset, is `defaultAgent`.
   */
  routing?: z.input<typeof routingSchema>;
  /**
   * WhatsApp numbers (phone number id -> tenant, agent) and signed-webhook channels this deployment
   * serves (docs/package.md). No secrets: those stay in the environment (WHATSAPP_APP_SECRET, ...).
   */
  channels?: ChannelsInput;
}

/** A checked config: every agent unique by name, the default agent one of them. */
export interface ResolvedConfig {
  agents: AgentRegistry;
  defaultAgent: string;
  /** The project's routing; absent: the deployment's (AGENT_ROUTING) with `defaultAgent` as default. */
  routing: Routing | undefined;
  /** The project's channels, merged with the environment's by the CLI (mergeChannels). */
  channels: ProjectChannels | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const tool = z.custom<FunctionTool>(
  (t) => isObject(t) && t.type === 'function' && typeof t.invoke === 'function',
  {
    message:
      'is not a function tool: make it with tool({ name, description, parameters, execute }) from @openai/agents',
  },
);

const NOT_AN_AGENT =
  'is not an agent: make it with defineAgent({ name, model, instructions, tools }) from threadline';

// In stages, so a plain object gets one line (use defineAgent) rather than one per missing default.
const agent = z
  .custom<Record<string, unknown>>(isObject, { message: NOT_AN_AGENT })
  .refine((a) => typeof a.contextualize === 'function' && typeof a.provider === 'string', {
    message:
      'was not made by defineAgent: wrap it in defineAgent({ name, model, instructions, tools }) from threadline',
  })
  .pipe(
    z
      .object({
        name: z.string({ message: 'is required: a name like "hotel"' }),
        model: z.string({ message: 'is required: a model name like "gpt-5-mini"' }).min(1),
        instructions: z.string({ message: 'is required: the system instructions, as a string' }),
        tools: z.array(tool, { message: 'must be a list of tools made with tool() from @openai/agents' }),
      })
      .loose(),
  )
  .transform((a) => a as unknown as AgentDefinition);

const configSchema = z
  .object(
    {
      agents: z
        .array(agent, { message: 'is required: a list of agents made with defineAgent()' })
        .min(1, { message: 'must list at least one agent' }),
      defaultAgent: z.string({ message: 'must be the name of one of the agents' }).optional(),
      routing: routingSchema.optional(),
      channels: channelsSchema.optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? 'is not a config field (the fields are agents, defaultAgent, routing, channels)'
          : 'must be defineConfig({ agents: [...] }), the default export of the config file',
    },
  )
  .strict()
  .superRefine((config, ctx) => {
    const names = config.agents.map((a) => a.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i)
        ctx.addIssue({
          code: 'custom',
          path: ['agents', i, 'name'],
          message: `"${name}" is used by two agents: give each agent its own name`,
        });
    });
    if (config.defaultAgent !== undefined && !names.includes(config.defaultAgent))
      ctx.addIssue({
        code: 'custom',
        path: ['defaultAgent'],
        message: `"${config.defaultAgent}" is not one of the agents (${names.join(', ')}): name one of them or leave it out`,
      });
    if (config.routing)
      for (const problem of routingProblems(
        toRouting(config.routing, config.defaultAgent ?? names[0]!),
        names,
      ))
        ctx.addIssue({ code: 'custom', path: ['routing'], message: problem });
    if (config.channels)
      for (const { path, message } of channelProblems(config.channels, names))
        ctx.addIssue({ code: 'custom', path, message });
  });

/** Thrown for a config that fails its checks; the message names each field and its fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Checks a config (what threadline.config.ts exports) and resolves its defaults. `source` names the
 * file in the message: `threadline.config.ts: agents[0].tools[1] is not a function tool: ...`.
 */
export function resolveConfig(value: unknown, source = 'threadline config'): ResolvedConfig {
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      return keys.map(
        (key) => `${source}: ${fieldName([...issue.path, ...(key ? [key] : [])])} ${issue.message}`,
      );
    });
    throw new ConfigError(lines.flat().join('\n'));
  }
  const config = parsed.data;
  const defaultAgent = config.defaultAgent ?? config.agents[0]!.name;
  return {
    agents: createRegistry(config.agents),
    defaultAgent,
    routing: config.routing ? toRouting(config.routing, defaultAgent) : undefined,
    channels: config.channels,
  };
}

/** A project's config, checked when it is defined so a mistake fails where it was made. */
export function defineConfig<T extends ThreadlineConfig>(config: T): T {
  resolveConfig(config, 'defineConfig');
  return config;
}

function fieldName(path: PropertyKey[]): string {
  if (!path.length) return 'the config';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}
