import { Approvals, type CarriedApprovals } from './approvals.js';
import { StatusChanges } from './statusChanges.js';
import type { InboundMessage, TurnReply } from './messages.js';
import { Takeover, type CarriedTakeover } from './takeover.js';

/**
 * A conversation's orchestration state and the rules that change it. Plain TypeScript (no
 * Temporal imports) so it is unit-tested directly; the workflow function is only wiring.
 * Nothing here holds transcript content beyond the waiting messages and recent replies.
 */

export interface InboxEntry {
  message: InboundMessage;
  /** Workflow time when the message was accepted (burst timing uses it, not the client's clock). */
  arrivedAtMs: number;
}

export interface UsageTotals {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  modelCalls: number;
  recoveries: number;
}

/**
 * A reply as it crosses continue-as-new: without its text, which may be 32 KB a message and is in
 * Postgres anyway. `text` is present only in carried states recorded before that change.
 */
export type CarriedReply = Omit<TurnReply, 'text'> & { text?: string | null };

/** What crosses continue-as-new; bounded whatever the conversation's length. */
export interface CarriedState {
  turns: number;
  segment: number;
  lastResponseId: string | null;
  lastError: string | null;
  usage: UsageTotals;
  inbox: InboxEntry[];
  /** Most recent message ids, so a redelivered message is still recognised after continue-as-new. */
  seenIds: string[];
  /** Replies still held for update callers that may retry. */
  replies: CarriedReply[];
  /** A close or reset asked for during the turn before continue-as-new; absent in older states. */
  closeRequested?: boolean;
  resetRequested?: boolean;
  /** The agent answering now, when a handoff changed it from the run's input; absent in older states. */
  agent?: string;
  /** Approval decisions and human mode (approvals.ts, takeover.ts); absent in older states. */
  approvals?: CarriedApprovals;
  takeover?: CarriedTakeover;
}

export const SEEN_IDS_KEPT = 1_000;
export const REPLIES_KEPT = 100;

export function emptyUsage(): UsageTotals {
  return { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, modelCalls: 0, recoveries: 0 };
}

export class ConversationState {
  turns: number;
  segment: number;
  lastResponseId: string | null;
  lastError: string | null;
  usage: UsageTotals;
  inbox: InboxEntry[];
  /** Message ids of the turn being answered. */
  inFlight: string[] = [];
  closeRequested = false;
  resetRequested = false;
  /** What the status search attribute says; not carried (each run writes it at its start). */
  status = new StatusChanges(false);
  /** The current agent once a handoff (or the Postgres record) says it is not the input's. */
  agent: string | undefined;
  readonly approvals: Approvals;
  readonly takeover: Takeover;
  private readonly seen: Set<string>;
  private readonly replies = new Map<string, CarriedReply>();

  constructor(carried?: Partial<CarriedState>) {
    this.turns = carried?.turns ?? 0;
    this.segment = carried?.segment ?? 0;
    this.lastResponseId = carried?.lastResponseId ?? null;
    this.lastError = carried?.lastError ?? null;
    this.usage = { ...emptyUsage(), ...carried?.usage };
    this.inbox = [...(carried?.inbox ?? [])];
    this.seen = new Set(carried?.seenIds ?? []);
    for (const e of this.inbox) this.seen.add(e.message.id);
    for (const r of carried?.replies ?? []) this.replies.set(r.messageId, r);
    this.closeRequested = carried?.closeRequested ?? false;
    this.resetRequested = carried?.resetRequested ?? false;
    this.agent = carried?.agent;
    this.approvals = new Approvals(carried?.approvals);
    this.takeover = new Takeover(carried?.takeover);
  }

  /** Queues a message; false for an id seen before (a channel's or client's retry). */
  accept(message: InboundMessage, nowMs: number): boolean {
    if (this.seen.has(message.id)) return false;
    this.seen.add(message.id);
    if (this.seen.size > SEEN_IDS_KEPT) this.seen.delete(this.seen.values().next().value as string);
    this.inbox.push({ message, arrivedAtMs: nowMs });
    return true;
  }

  arrivals(): number[] {
    return this.inbox.map((e) => e.arrivedAtMs);
  }

  /** Removes the first `count` waiting messages for a turn; later arrivals wait for the next one. */
  takeBatch(count: number): InboundMessage[] {
    const batch = this.inbox.splice(0, count).map((e) => e.message);
    this.inFlight = batch.map((m) => m.id);
    return batch;
  }

  /**
   * Messages Postgres says an earlier turn answered (redelivered to a run that never saw them) are
   * not part of this turn: their callers hear 'duplicate', not another turn's reply.
   */
  leaveOutOfTurn(answeredBefore: readonly string[]): void {
    this.inFlight = this.inFlight.filter((id) => !answeredBefore.includes(id));
  }

  /** Every message of a burst gets the turn's one reply. */
  finishTurn(turn: number, reply: Omit<TurnReply, 'messageId'>): void {
    for (const id of this.inFlight) {
      this.replies.set(id, { ...reply, messageId: id });
      if (this.replies.size > REPLIES_KEPT) this.replies.delete(this.replies.keys().next().value as string);
    }
    this.inFlight = [];
    // A turn resumed from an abandoned run may be older than the newest one: the count never goes back.
    this.turns = Math.max(this.turns, turn);
  }

  /** The reply held for a message; `text` is undefined when it must be read from Postgres. */
  replyFor(messageId: string): CarriedReply | undefined {
    return this.replies.get(messageId);
  }

  isPending(messageId: string): boolean {
    return this.inFlight.includes(messageId) || this.inbox.some((e) => e.message.id === messageId);
  }

  hasSeen(messageId: string): boolean {
    return this.seen.has(messageId);
  }

  addUsage(
    usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number },
    recovered: boolean,
  ): void {
    this.usage.inputTokens += usage.inputTokens;
    this.usage.cachedInputTokens += usage.cachedInputTokens;
    this.usage.outputTokens += usage.outputTokens;
    this.usage.modelCalls += 1;
    if (recovered) this.usage.recoveries += 1;
  }

  /** A new transcript segment: the model starts fresh; earlier items stay in Postgres. */
  startNewSegment(): void {
    this.segment += 1;
    this.lastResponseId = null;
    this.resetRequested = false;
    this.takeover.onReset();
  }

  /**
   * `withReplyText: false` drops the replies' text (a retrying caller's reply is read back from
   * Postgres), so the carried state is bounded in bytes, not only in count.
   */
  carry(options: { withReplyText?: boolean } = {}): CarriedState {
    const withText = options.withReplyText ?? false;
    return {
      turns: this.turns,
      segment: this.segment,
      lastResponseId: this.lastResponseId,
      lastError: this.lastError,
      usage: { ...this.usage },
      inbox: [...this.inbox],
      seenIds: [...this.seen].slice(-SEEN_IDS_KEPT),
      replies: [...this.replies.values()].map((r) => (withText ? r : withoutText(r))),
      closeRequested: this.closeRequested,
      resetRequested: this.resetRequested,
      ...(this.agent !== undefined ? { agent: this.agent } : {}),
      approvals: this.approvals.carry(),
      takeover: this.takeover.carry(),
    };
  }
}

function withoutText(reply: CarriedReply): CarriedReply {
  // A duplicate has no text to read back; its null says so.
  if (reply.status === 'duplicate' || reply.status === 'human') return reply;
  const { text: _text, ...rest } = reply;
  return rest;
}

/** True when a held reply's text is not in memory and must be read from the transcript. */
export function needsReplyText(reply: CarriedReply): boolean {
  return reply.text === undefined;
}
