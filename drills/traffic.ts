import type { DrillEnv } from './env.js';
import { conversationWorkflowId } from '../src/workflows/ids.js';
import { DRILL_CHANNEL, DRILL_TENANT, DRILL_TOOL } from './agent.js';

/**
 * Real traffic through the API: several conversations in parallel, each sending its turns one after
 * the other with `?wait=true`, the way a chat front end does. A request that fails (the API cannot
 * reach Temporal or Postgres, a connection cut) is sent again with the same message id, which is
 * what a client must do and what the runtime's dedupe by message id is for.
 */
export interface TrafficPlan {
  conversations: number;
  turns: number;
  /** Which turns (1-based) ask for the drill tool, and how long each tool call takes. */
  toolTurns?: (turn: number) => number | null;
  /** Give up on a message that is still not accepted after this long. */
  acceptDeadlineMs?: number;
}

export interface SentMessage {
  conversation: string;
  id: string;
  text: string;
  tool: boolean;
  /** 'answered' | 'duplicate' from a 200; 'pending' for a 202; null if never accepted. */
  outcome: 'answered' | 'duplicate' | 'failed' | 'pending' | null;
  attempts: number;
}

export interface TrafficResult {
  messages: SentMessage[];
  /** HTTP attempts that did not get a 200/202 (retried with the same id). */
  retriedRequests: number;
}

export class Traffic {
  readonly messages: SentMessage[] = [];
  retriedRequests = 0;
  /** Turns answered so far (200 with a reply), for drills that strike mid-traffic. */
  answered = 0;
  private readonly done: Promise<void>;

  constructor(
    private readonly env: DrillEnv,
    readonly plan: TrafficPlan,
    readonly prefix: string,
  ) {
    const runs: Promise<void>[] = [];
    for (let c = 1; c <= plan.conversations; c++) runs.push(this.conversation(`${prefix}-c${c}`));
    this.done = Promise.all(runs).then(() => {});
  }

  finished(): Promise<TrafficResult> {
    return this.done.then(() => ({ messages: this.messages, retriedRequests: this.retriedRequests }));
  }

  /** Resolves once `n` turns have been answered across all conversations. */
  async whenAnswered(n: number, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.answered < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.answered} of ${n} turns answered in time`);
      await sleep(100);
    }
  }

  private async conversation(name: string): Promise<void> {
    for (let turn = 1; turn <= this.plan.turns; turn++) {
      const delay = this.plan.toolTurns?.(turn) ?? null;
      const id = `${name}-m${turn}`;
      const text =
        delay === null
          ? `drill message ${id}`
          : `drill message ${id}: call ${DRILL_TOOL} ${JSON.stringify({ delay_ms: delay })}`;
      const sent: SentMessage = {
        conversation: name,
        id,
        text,
        tool: delay !== null,
        outcome: null,
        attempts: 0,
      };
      this.messages.push(sent);
      await this.send(name, sent);
      if (sent.outcome === null) return; // never accepted: the verdict reports it
    }
  }

  private async send(conversation: string, sent: SentMessage): Promise<void> {
    const deadline = Date.now() + (this.plan.acceptDeadlineMs ?? 180_000);
    const url = `${this.env.apiUrl}/v1/conversations/${DRILL_CHANNEL}/${encodeURIComponent(conversation)}/messages?wait=true`;
    while (Date.now() < deadline) {
      sent.attempts += 1;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.env.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id: sent.id, text: sent.text }),
          signal: AbortSignal.timeout(45_000),
        });
        if (res.status === 200) {
          const body = (await res.json()) as { reply: { status: SentMessage['outcome'] } };
          sent.outcome = body.reply.status;
          this.answered += 1;
          return;
        }
        if (res.status === 202) {
          sent.outcome = 'pending';
          // Accepted; the reply arrives later. Wait for it before the next turn, as a chat user would.
          await this.waitForTurn(conversation, sent.id, deadline);
          this.answered += 1;
          return;
        }
        await res.body?.cancel();
      } catch {
        // Connection refused or cut, or our timeout: send again with the same id.
      }
      this.retriedRequests += 1;
      await sleep(1_000);
    }
  }

  private async waitForTurn(conversation: string, messageId: string, deadline: number): Promise<void> {
    const workflowId = conversationWorkflowId({
      tenant: DRILL_TENANT,
      channel: DRILL_CHANNEL,
      externalId: conversation,
    });
    while (Date.now() < deadline + 120_000) {
      try {
        const { rows } = await this.env.pool.query(
          `SELECT 1 FROM inbound_messages m JOIN deliveries d
             ON d.conversation_id = m.conversation_id AND d.turn = m.turn AND d.status = 'sent'
           WHERE m.conversation_id = $1 AND m.message_id = $2`,
          [workflowId, messageId],
        );
        if (rows.length > 0) return;
      } catch {
        // Postgres may be the thing that is down.
      }
      await sleep(500);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
