import { z } from 'zod';

/**
 * Which agent answers a new conversation. Pure: no I/O, no registry; the API resolves with it, and
 * start-up checks its names against the registry (`routingProblems`). Sandbox safe.
 */

/** One rule: every criterion it gives must match; the agent it names answers. */
export interface RoutingRule {
  tenant?: string;
  channel?: string;
  /** The WhatsApp business number (phone number id) the conversation came in on. */
  whatsappNumber?: string;
  agent: string;
}

export interface Routing {
  /** Answers a conversation no rule matches; every tenant may use it. */
  defaultAgent: string;
  /** The most specific matching rule wins (number, then channel, then tenant); among equals, the first. */
  rules?: readonly RoutingRule[];
  /**
   * Agents a tenant may also ask for by name in its first message (the `agent` field). The agents
   * its matching rules name, and the default, are always allowed.
   */
  allow?: Readonly<Record<string, readonly string[]>>;
}

export interface RouteRequest {
  tenant: string;
  channel: string;
  whatsappNumber?: string | undefined;
  /** The `agent` field of the first message, if any. */
  requested?: string | undefined;
}

export type Resolution =
  | { ok: true; agent: string; source: 'requested' | 'rule' | 'default' }
  /** `allowed` holds only agents this tenant may use: it is safe to show the caller. */
  | { ok: false; allowed: string[] };

export function resolveAgent(request: RouteRequest, routing: Routing): Resolution {
  if (request.requested !== undefined) {
    const allowed = agentsFor(request.tenant, routing);
    return allowed.includes(request.requested)
      ? { ok: true, agent: request.requested, source: 'requested' }
      : { ok: false, allowed };
  }
  const rule = bestRule(request, routing.rules ?? []);
  return rule
    ? { ok: true, agent: rule.agent, source: 'rule' }
    : { ok: true, agent: routing.defaultAgent, source: 'default' };
}

/** The agents a tenant may ask for: sorted, without duplicates, none that only another tenant may use. */
export function agentsFor(tenant: string, routing: Routing): string[] {
  const names = new Set<string>([routing.defaultAgent, ...(routing.allow?.[tenant] ?? [])]);
  for (const rule of routing.rules ?? [])
    if (rule.tenant === undefined || rule.tenant === tenant) names.add(rule.agent);
  return [...names].sort();
}

function bestRule(request: RouteRequest, rules: readonly RoutingRule[]): RoutingRule | undefined {
  let best: RoutingRule | undefined;
  let bestScore = -1;
  for (const rule of rules) {
    if (rule.tenant !== undefined && rule.tenant !== request.tenant) continue;
    if (rule.channel !== undefined && rule.channel !== request.channel) continue;
    if (rule.whatsappNumber !== undefined && rule.whatsappNumber !== request.whatsappNumber) continue;
    const score =
      (rule.whatsappNumber !== undefined ? 4 : 0) +
      (rule.channel !== undefined ? 2 : 0) +
      (rule.tenant !== undefined ? 1 : 0);
    if (score > bestScore) {
      best = rule;
      bestScore = score;
    }
  }
  return best;
}

/** Routing that names an agent the registry does not define would fail turns: refuse it at start-up. */
export function routingProblems(routing: Routing, known: Iterable<string>): string[] {
  const defined = new Set(known);
  const named = [
    { where: 'defaultAgent', agent: routing.defaultAgent },
    ...(routing.rules ?? []).map((r, i) => ({ where: `rules[${i}].agent`, agent: r.agent })),
    ...Object.entries(routing.allow ?? {}).flatMap(([tenant, agents]) =>
      agents.map((agent, i) => ({ where: `allow.${tenant}[${i}]`, agent })),
    ),
  ];
  return named
    .filter((n) => !defined.has(n.agent))
    .map((n) => `routing ${n.where} names the agent "${n.agent}", which is not defined`);
}

const AGENT_NAME = /^[\w.-]{1,64}$/;
const agentName = z
  .string()
  .regex(AGENT_NAME, { message: 'must be an agent name (1-64 letters, digits, "_", "-" or ".")' });
const criterion = z.string().trim().min(1).max(256);

/** The JSON shape of AGENT_ROUTING (and of `routing` in threadline.config.ts). */
export const routingSchema = z
  .object({
    defaultAgent: agentName.optional(),
    rules: z
      .array(
        z
          .object({
            tenant: criterion.optional(),
            channel: criterion.optional(),
            whatsappNumber: criterion.optional(),
            agent: agentName,
          })
          .strict(),
      )
      .max(10_000)
      .default([]),
    allow: z.record(criterion, z.array(agentName).max(1_000)).default({}),
  })
  .strict();

export type RoutingInput = z.input<typeof routingSchema>;

/** Parsed routing with the default agent filled in. */
export function toRouting(input: z.output<typeof routingSchema>, defaultAgent: string): Routing {
  return { defaultAgent: input.defaultAgent ?? defaultAgent, rules: input.rules, allow: input.allow };
}
