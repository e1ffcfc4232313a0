/**
 * `threadline` (also `threadline/agents`): defining agents, their tools and a project's config.
 *
 * Context: Node — threadline.config.ts, a worker process, the CLI. Never import it from workflow
 * code (it reads files for instructions); the sandbox entry is `threadline/workflows`.
 * Tools are @openai/agents `tool()`s; each receives a ToolContext as its run context.
 */
export { defineAgent, instructionsFromFile, plainMessages } from '../agents/define.js';
export { createRegistry, type AgentRegistry } from '../agents/registry.js';
export type {
  AgentDefinition,
  ContextualizeHook,
  InputItem,
  ModelSettings,
  RecoveryMode,
  ToolContext,
  ToolPolicy,
  TurnContext,
} from '../agents/types.js';
export type { InboundMessage, Strategy } from '../workflows/messages.js';
export type { ProviderName } from '../providers/types.js';
export type { BurstSettings } from '../workflows/burst.js';
export {
  defineConfig,
  resolveConfig,
  ConfigError,
  type ThreadlineConfig,
  type ResolvedConfig,
} from './config.js';
export { mergeChannels, type ChannelsInput, type EnvChannels, type ProjectChannels } from './channels.js';
