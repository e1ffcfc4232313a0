import type { Client } from '@temporalio/client';
import type { ChannelSender } from '../../../src/activities/delivery.js';
import { tool } from '@openai/agents';
import { z } from 'zod';
import { defineAgent } from '../../../src/agents/define.js';
import type { AgentDefinition } from '../../../src/agents/types.js';
import type { FaultController } from '../../../src/emulator/faults.js';
import type { Pool } from '../../../src/store/pool.js';
import { agentName, allAgentShapes } from './generate.js';

/** What schedules run against: the test harness or the drill's stack. */
export interface ScheduleWorld {
  client: Client;
  taskQueue: string;
  pool: Pool;
  faults: FaultController;
  /** Every send the channel saw, retries included. */
  sends: readonly ChannelSend[];
}

export interface ChannelSend {
  conversationId: string;
  text: string;
  idempotencyKey: string;
}

export const SCHEDULE_CHANNEL = 'sched';
export const SCHEDULE_TENANT = 'default';

/**
 * An idempotent channel that keeps its books: it records every send with its key. A retried send
 * with a key seen before is harmless; the same reply under two keys would reach the user twice.
 */
export function recordingSender(): { sender: ChannelSender; sends: ChannelSend[] } {
  const sends: ChannelSend[] = [];
  return {
    sends,
    sender: {
      async send(reply) {
        sends.push({
          conversationId: reply.conversationId,
          text: reply.text,
          idempotencyKey: reply.idempotencyKey,
        });
        return `sent-${sends.length}`;
      },
    },
  };
}

/** One agent per shape the generator picks: continue-as-new after 1-3 turns, a 1 s idle timeout, bursts. */
export function scheduleAgents(model: string): AgentDefinition[] {
  return allAgentShapes().map((shape) =>
    defineAgent({
      name: agentName(shape),
      model,
      instructions: 'Be brief.',
      continueAsNewAfterTurns: shape.continueAsNewAfterTurns,
      ...(shape.idle ? { idleTimeoutMs: 1_000 } : {}),
      ...(shape.burst ? { burst: { quietMs: 150, maxWaitMs: 400 } } : {}),
      // Every call needs an operator; undecided, it expires after 1 s (docs/approvals-and-takeover.md).
      tools: [refundTool()],
      toolPolicies: { refund: { approvalTimeoutMs: 1_000 } },
    }),
  );
}

/** The output the refund tool gives when it runs: what the checker expects of an approved call. */
export const refundOutput = (amount: number) => `refunded ${amount}`;

function refundTool() {
  return tool({
    name: 'refund',
    description: 'Refunds an amount.',
    parameters: z.object({ amount: z.number() }),
    strict: true,
    needsApproval: true,
    execute: async ({ amount }) => refundOutput(amount),
  });
}
