import type { HumanMode, OperatorMessage, OperatorReply, TakeOverInput } from './messages.js';

/**
 * Human takeover: whether an operator has the conversation, the operator replies waiting to go out,
 * and which turns the model has not seen. Plain TypeScript (no Temporal imports), unit-tested in
 * test/workflows/takeoverState.test.ts; the workflow side is takeoverFlow.ts.
 *
 * While a human has the conversation, customer messages are recorded as turns of their own with no
 * model call, and each operator reply is a turn of its own (one assistant item, delivered through
 * the ledger under that turn). The model's server-side state (a response chain, an OpenAI
 * conversation) has none of those turns: `catchUpFromTurn` is the first of them, and the next model
 * call after the hand back sends them as input items.
 */

export const OPERATOR_REPLIES_KEPT = 100;

export interface CarriedTakeover {
  humanMode: HumanMode | null;
  catchUpFromTurn: number | null;
  replies: OperatorReply[];
}

export class Takeover {
  humanMode: HumanMode | null;
  /** The first turn the model's server-side state lacks; null when it has seen everything. */
  catchUpFromTurn: number | null;
  /** Operator replies accepted by the update handler, sent by the main loop one at a time. */
  readonly outbox: OperatorMessage[] = [];
  /** An escalation tool asked for a human during the turn; applied when the turn ends. */
  requestedByTool: { tool: string; reason: string | null } | null = null;
  private readonly replies = new Map<string, OperatorReply>();

  constructor(carried?: Partial<CarriedTakeover>) {
    this.humanMode = carried?.humanMode ?? null;
    this.catchUpFromTurn = carried?.catchUpFromTurn ?? null;
    for (const r of carried?.replies ?? []) this.replies.set(r.messageId, r);
  }

  /** Idempotent: taking over a conversation a human already has keeps the first takeover. */
  takeOver(input: TakeOverInput, by: HumanMode['by'], nowIso: string): HumanMode {
    if (this.humanMode) return this.humanMode;
    this.humanMode = {
      operator: input.operator.trim(),
      reason: input.reason?.trim() || null,
      since: nowIso,
      by,
    };
    return this.humanMode;
  }

  /** Ends human mode; `catchUpFromTurn` stays until a model turn has sent those turns. */
  handBack(): void {
    this.humanMode = null;
    this.requestedByTool = null;
  }

  /** A turn recorded without the model (a customer message in human mode, an operator reply). */
  noteHumanTurn(turn: number): void {
    if (this.catchUpFromTurn === null || turn < this.catchUpFromTurn) this.catchUpFromTurn = turn;
  }

  /** A model turn answered with the catch-up in its input: the server-side state has it now. */
  caughtUp(): void {
    this.catchUpFromTurn = null;
  }

  /** A reset: the model starts from nothing in a new segment, so there is nothing to catch up on. */
  onReset(): void {
    this.catchUpFromTurn = null;
  }

  /** Queues an operator reply; the held reply of an id sent before, or 'queued'. */
  enqueue(message: OperatorMessage): OperatorReply | 'queued' {
    const held = this.replies.get(message.id);
    if (held) return { ...held, status: 'duplicate' };
    if (this.outbox.some((m) => m.id === message.id)) return 'queued';
    this.outbox.push(message);
    return 'queued';
  }

  replyFor(id: string): OperatorReply | undefined {
    return this.replies.get(id);
  }

  isQueued(id: string): boolean {
    return this.outbox.some((m) => m.id === id);
  }

  finishReply(reply: OperatorReply): void {
    const i = this.outbox.findIndex((m) => m.id === reply.messageId);
    if (i >= 0) this.outbox.splice(i, 1);
    this.replies.set(reply.messageId, reply);
    if (this.replies.size > OPERATOR_REPLIES_KEPT)
      this.replies.delete(this.replies.keys().next().value as string);
  }

  carry(): CarriedTakeover {
    return {
      humanMode: this.humanMode,
      catchUpFromTurn: this.catchUpFromTurn,
      replies: [...this.replies.values()],
    };
  }
}

/** The `reason` an escalation tool's arguments give, if any (the model wrote them: never trusted as more). */
export function escalationReason(argumentsJson: string): string | null {
  try {
    const parsed = JSON.parse(argumentsJson) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { reason?: unknown }).reason === 'string')
      return ((parsed as { reason: string }).reason.trim() || null)?.slice(0, 2_000) ?? null;
  } catch {
    // Not JSON: no reason.
  }
  return null;
}
