import { readFileSync } from 'node:fs';
import { templateShape } from '../channels/actions.js';
import { messageContent } from '../media/parts.js';
import { isTakeoverTool } from './takeoverTools.js';
import { resolveToolPolicy, toolPolicyProblems } from './toolPolicy.js';
import type { AgentDefinition, AgentSettings, ContextualizeHook } from './types.js';

/**
 * The default hook: each message becomes one user message, text unchanged; media and other
 * channel content come first as input parts (src/media/parts.ts).
 */
export const plainMessages: ContextualizeHook = (messages, ctx) =>
  messages.map((m) => ({ role: 'user', content: messageContent(m, ctx.channel), type: 'message' }));

type Required_ = Pick<AgentDefinition, 'name' | 'model' | 'instructions'>;
type Defaulted = Omit<AgentDefinition, 'provider'> & { provider?: AgentDefinition['provider'] };

/** Fills defaults and checks what would otherwise fail at the first turn. */
export function defineAgent(def: Required_ & Partial<AgentDefinition>): AgentDefinition {
  const merged: Defaulted = {
    tools: [],
    toolPolicies: {},
    modelSettings: {},
    strategy: 'previous_response_id',
    timeZone: 'UTC',
    apologyText:
      'Sorry, something went wrong on our side and I could not answer. Please try again in a moment.',
    unsupportedMessageReply:
      'Sorry, I cannot open this kind of message. Please send it as text, a photo, a PDF or a voice note.',
    mediaProblemReply:
      'Sorry, I could not open the file you sent (it may be too large or of a type I cannot read). ' +
      'Please send it again as a photo, a PDF or a voice note.',
    burst: { quietMs: 0, maxWaitMs: 0 },
    maxToolRounds: 5,
    historyTokenBudget: 16_000,
    recovery: 'items',
    contextualize: plainMessages,
    continueAsNewAfterTurns: 500,
    idleTimeoutMs: 24 * 3600 * 1000,
    handoffs: [],
    approvalTimeoutMs: 24 * 3600 * 1000,
    ...def,
  };
  const agent: AgentDefinition = {
    ...merged,
    provider:
      merged.provider ?? (merged.strategy === 'conversation' ? 'openai-conversations' : 'openai-responses'),
  };
  const problems: string[] = [];
  if (!/^[\w.-]{1,64}$/.test(agent.name)) problems.push('name must be 1-64 letters, digits, "_", "-" or "."');
  try {
    new Intl.DateTimeFormat('en', { timeZone: agent.timeZone });
  } catch {
    problems.push(`timeZone "${agent.timeZone}" is not an IANA time zone (e.g. "Europe/Berlin")`);
  }
  const names = agent.tools.map((t) => t.name);
  for (const name of new Set(names)) {
    if (names.filter((n) => n === name).length > 1) problems.push(`tool "${name}" is defined twice`);
  }
  for (const name of Object.keys(agent.toolPolicies)) {
    if (!names.includes(name)) problems.push(`toolPolicies names "${name}", which is not one of its tools`);
    else problems.push(...toolPolicyProblems(name, agent.toolPolicies[name]!));
  }
  for (const target of new Set(agent.handoffs)) {
    if (target === agent.name) problems.push('handoffs must not name the agent itself');
    else if (!/^[\w.-]{1,64}$/.test(target))
      problems.push(`handoffs names "${target}", which is not an agent name`);
    if (agent.handoffs.filter((n) => n === target).length > 1)
      problems.push(`handoffs names "${target}" twice`);
  }
  if (agent.maxToolRounds < 1) problems.push('maxToolRounds must be at least 1');
  if (agent.idleTimeoutMs < 1_000) problems.push('idleTimeoutMs must be at least 1000');
  const approvalTimeouts: [string, number | undefined][] = [
    ['approvalTimeoutMs', agent.approvalTimeoutMs],
    ...Object.entries(agent.toolPolicies).map(([n, p]): [string, number | undefined] => [
      `toolPolicies.${n}.approvalTimeoutMs`,
      p.approvalTimeoutMs,
    ]),
  ];
  for (const [field, ms] of approvalTimeouts)
    if (ms !== undefined && !(Number.isInteger(ms) && ms >= 1_000))
      problems.push(`${field} must be a whole number of milliseconds, at least 1000`);
  const fits: Record<AgentDefinition['provider'], AgentDefinition['strategy'][]> = {
    'openai-responses': ['previous_response_id', 'stateless'],
    'openai-conversations': ['conversation'],
    'chat-completions': ['stateless'],
  };
  if (!fits[agent.provider].includes(agent.strategy)) {
    problems.push(
      `provider ${agent.provider} cannot run strategy ${agent.strategy} (it supports: ${fits[agent.provider].join(', ')})`,
    );
  }
  if (agent.burst.quietMs < 0 || agent.burst.maxWaitMs < 0) problems.push('burst times must not be negative');
  if (agent.whatsappTemplate) {
    const t = templateShape.safeParse(agent.whatsappTemplate);
    if (!t.success)
      problems.push(...t.error.issues.map((i) => `whatsappTemplate.${i.path.join('.')} ${i.message}`));
  }
  if (problems.length) throw new Error(`Agent "${agent.name}" is invalid: ${problems.join('; ')}`);
  return agent;
}

export function instructionsFromFile(url: URL): string {
  return readFileSync(url, 'utf8').trim();
}

export function agentSettings(agent: AgentDefinition): AgentSettings {
  return {
    strategy: agent.strategy,
    burst: agent.burst,
    maxToolRounds: agent.maxToolRounds,
    apologyText: agent.apologyText,
    continueAsNewAfterTurns: agent.continueAsNewAfterTurns,
    idleTimeoutMs: agent.idleTimeoutMs,
    toolPolicies: Object.fromEntries(
      agent.tools.map((t) => [t.name, resolveToolPolicy(agent.toolPolicies[t.name])]),
    ),
    approvalTimeouts: Object.fromEntries(
      agent.tools.map((t) => [
        t.name,
        agent.toolPolicies[t.name]?.approvalTimeoutMs ?? agent.approvalTimeoutMs,
      ]),
    ),
    takeoverTools: agent.tools.filter(isTakeoverTool).map((t) => t.name),
  };
}
