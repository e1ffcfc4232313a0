import type { AgentDefinition } from '../agents/types.js';
import { chatCompletions } from './chatCompletions.js';
import { openaiConversations } from './openaiConversations.js';
import { openaiResponses } from './openaiResponses.js';
import type { ModelProvider, ProviderName } from './types.js';

export const PROVIDERS: Readonly<Record<ProviderName, ModelProvider>> = {
  'openai-responses': openaiResponses,
  'openai-conversations': openaiConversations,
  'chat-completions': chatCompletions,
};

export function providerFor(agent: AgentDefinition): ModelProvider {
  return PROVIDERS[agent.provider];
}

export type { ModelProvider, ProviderCapabilities, ProviderName } from './types.js';
