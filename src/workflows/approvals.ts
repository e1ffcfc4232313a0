import {
  APPROVAL_ARGUMENTS_SHOWN,
  approvalAlreadyDecided,
  approvalNotFound,
  type ApprovalDecision,
  type ApprovalOutcome,
  type DecideApprovalInput,
  type PendingApproval,
} from './messages.js';

/**
 * Tool approvals: the calls of a turn that wait for an operator, and the decisions taken. Plain
 * TypeScript (no Temporal imports), unit-tested in test/workflows/approvals.test.ts; the
 * waiting itself is `awaitApproval` in approvalWait.ts.
 *
 * A pending call lives inside its turn: the turn waits, so continue-as-new (which happens between
 * turns) never meets a pending call. Decisions are remembered (the last DECISIONS_KEPT) so that a
 * second decision on the same call is refused with a clear error, in this run and the next.
 */

export const DECISIONS_KEPT = 100;
export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 3600 * 1000;

export interface CarriedApprovals {
  decided: ApprovalDecision[];
}

export class Approvals {
  readonly pending = new Map<string, PendingApproval>();
  private readonly decided = new Map<string, ApprovalDecision>();

  constructor(carried?: Partial<CarriedApprovals>) {
    for (const d of carried?.decided ?? []) this.decided.set(d.callId, d);
  }

  request(call: Omit<PendingApproval, 'arguments'> & { arguments: string }): void {
    if (this.decided.has(call.callId)) return;
    this.pending.set(call.callId, { ...call, arguments: call.arguments.slice(0, APPROVAL_ARGUMENTS_SHOWN) });
  }

  /** Throws the error the operator sees for a decision that cannot be applied. */
  validate(input: Pick<DecideApprovalInput, 'callId'>): void {
    const done = this.decided.get(input.callId);
    if (done) throw approvalAlreadyDecided(done);
    if (!this.pending.has(input.callId)) throw approvalNotFound(input.callId, [...this.pending.keys()]);
  }

  /** An operator's decision. Validated again here: a second update racing the first is refused too. */
  decide(input: DecideApprovalInput, nowIso: string): ApprovalDecision {
    this.validate(input);
    return this.settle(
      input.callId,
      input.approve ? 'approved' : 'rejected',
      input.operator.trim(),
      input.reason?.trim() || null,
      nowIso,
    );
  }

  /** Settles a pending call (an operator, the timeout, a close or reset); a settled call stays settled. */
  settle(
    callId: string,
    outcome: ApprovalOutcome,
    operator: string | null,
    reason: string | null,
    nowIso: string,
  ): ApprovalDecision {
    const done = this.decided.get(callId);
    if (done) return done;
    const call = this.pending.get(callId);
    const decision: ApprovalDecision = {
      callId,
      tool: call?.tool ?? 'unknown',
      turn: call?.turn ?? 0,
      outcome,
      operator,
      reason,
      decidedAt: nowIso,
    };
    this.pending.delete(callId);
    this.decided.set(callId, decision);
    if (this.decided.size > DECISIONS_KEPT) this.decided.delete(this.decided.keys().next().value as string);
    return decision;
  }

  decisionFor(callId: string): ApprovalDecision | undefined {
    return this.decided.get(callId);
  }

  list(): PendingApproval[] {
    return [...this.pending.values()];
  }

  carry(): CarriedApprovals {
    return { decided: [...this.decided.values()] };
  }
}

/** What the model reads as the call's output when it did not run. */
export function notRunOutput(d: Pick<ApprovalDecision, 'outcome' | 'reason' | 'operator'>): string {
  switch (d.outcome) {
    case 'approved':
      throw new Error('an approved call runs; it has no "not run" output');
    case 'rejected':
      return `The operator rejected this call: ${d.reason ?? 'no reason given'}. It was not run.`;
    case 'expired':
      return `No operator approved this call in time (${d.reason ?? 'the approval timed out'}). It was not run.`;
    case 'cancelled':
      return `This call was not run: ${d.reason ?? 'it was cancelled before an operator decided'}.`;
  }
}

/** The approval timeout of a tool: its own, else the agent's, else 24 h. */
export function approvalTimeoutMs(
  settings: { approvalTimeouts?: Record<string, number> },
  tool: string,
): number {
  return settings.approvalTimeouts?.[tool] ?? DEFAULT_APPROVAL_TIMEOUT_MS;
}

/** "2 h", "90 s": how a timeout reads in the model's tool output. */
export function humanDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}
