import { tool } from '@openai/agents';
import { z } from 'zod';
import type { ChannelSender } from '../src/activities/delivery.js';
import { defineAgent } from '../src/agents/define.js';
import type { AgentDefinition, ToolContext } from '../src/agents/types.js';
import type { Pool } from '../src/store/pool.js';

/**
 * The drills' agent, tool and channel. The tool and the sender keep their own books in tables the
 * runtime never touches, so the drills can count what really happened outside the runtime: how
 * often a side effect ran (executions) and how often it took effect (applied), per idempotency key.
 */

export const DRILL_AGENT = 'drill';
export const DRILL_CHANNEL = 'drill';
export const DRILL_TOOL = 'drill_effect';
export const DRILL_TENANT = 'drills';

export const DRILL_TABLES = `
CREATE TABLE IF NOT EXISTS drill_side_effects (
  idempotency_key text PRIMARY KEY,
  executions      integer NOT NULL,
  applied         integer NOT NULL
);
CREATE TABLE IF NOT EXISTS drill_deliveries (
  idempotency_key text PRIMARY KEY,
  conversation_id text NOT NULL,
  sends           integer NOT NULL,
  delivered       integer NOT NULL
);`;

/**
 * A tool with a side effect that honours its idempotency key, the way a payment or booking API
 * does: the first execution applies it, a retry only counts. It applies before it sleeps, so a
 * worker killed during the sleep leaves an applied effect whose activity never reported back.
 */
export function drillTool(pool: Pool) {
  return tool({
    name: DRILL_TOOL,
    description: 'Applies a drill side effect once per idempotency key.',
    parameters: z.object({ delay_ms: z.number().int().min(0).max(20_000) }),
    strict: true,
    errorFunction: null,
    execute: async ({ delay_ms }, runContext) => {
      const ctx = runContext?.context as ToolContext | undefined;
      if (!ctx?.idempotencyKey) throw new Error('drill_effect runs only inside Threadline');
      const { rows } = await pool.query<{ executions: number }>(
        `INSERT INTO drill_side_effects (idempotency_key, executions, applied) VALUES ($1, 1, 1)
         ON CONFLICT (idempotency_key) DO UPDATE SET executions = drill_side_effects.executions + 1
         RETURNING executions`,
        [ctx.idempotencyKey],
      );
      await new Promise((r) => setTimeout(r, delay_ms));
      return `effect applied (execution ${rows[0]?.executions ?? '?'})`;
    },
  });
}

/** The drill agent under each conversation-state strategy, for the lost-answer drills. */
export const DRILL_AGENTS = {
  previous_response_id: DRILL_AGENT,
  conversation: 'drill-conversation',
  stateless: 'drill-stateless',
} as const;
export type DrillStrategy = keyof typeof DRILL_AGENTS;

export function drillAgent(pool: Pool, strategy: DrillStrategy = 'previous_response_id'): AgentDefinition {
  return defineAgent({
    name: DRILL_AGENTS[strategy],
    strategy,
    model: 'gpt-5-mini',
    instructions: 'You are the fault drill agent. Answer briefly.',
    tools: [drillTool(pool)],
    // Each attempt: short enough that a tool call lost with its worker is retried within the drill,
    // long enough for the slowest drill tool call (4 s). In all: retried without an attempt limit
    // for a minute, three times the postgres-outage drill's 20 s outage.
    toolPolicies: { [DRILL_TOOL]: { timeoutMs: 8_000, maxDurationMs: 60_000 } },
  });
}

/**
 * A channel that accepts an idempotency key, like most messaging providers: a repeated send with
 * the same key is counted (sends) but delivered once (delivered). `sends` is what a provider
 * without idempotency (WhatsApp) would have delivered. With `delayMs` the provider takes the
 * message at once and answers late: a worker killed meanwhile has sent without recording it.
 */
export function drillSender(pool: Pool, delayMs = 0): ChannelSender {
  return {
    async send(reply) {
      await pool.query(
        `INSERT INTO drill_deliveries (idempotency_key, conversation_id, sends, delivered) VALUES ($1, $2, 1, 1)
         ON CONFLICT (idempotency_key) DO UPDATE SET sends = drill_deliveries.sends + 1`,
        [reply.idempotencyKey, reply.conversationId],
      );
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return `drill-${reply.idempotencyKey}`;
    },
  };
}
