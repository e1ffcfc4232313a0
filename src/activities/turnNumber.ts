/**
 * Which turn a batch of messages is answered in. The workflow proposes the next number from its own
 * count, but that count can be behind Postgres: a run terminated mid-turn (or reset from the UI)
 * leaves a turn with recorded input and perhaps a recorded model answer, and the next run restores
 * the count of *finished* turns. Reusing that number would store nothing and return the old answer.
 *
 * Pure: the activity reads the facts in one transaction and applies this.
 */
export interface KnownMessage {
  messageId: string;
  turn: number;
  /** The turn was finished (answered or apologised for). */
  answered: boolean;
}

export interface TurnFacts {
  /** The batch's message ids, in order. */
  batch: readonly string[];
  /** inbound_messages rows for the batch's ids. */
  known: readonly KnownMessage[];
  /** Every message id recorded at each turn among `known`. */
  idsAtTurn: ReadonlyMap<number, readonly string[]>;
  /** The workflow's proposal: its count of turns plus one. */
  proposed: number;
  /** Whether anything (a message or an item) is already recorded at `proposed`. */
  proposedTaken: boolean;
  /** The highest turn number the conversation has used anywhere. */
  highest: number;
}

export type TurnChoice =
  /** Store `fresh` as a new turn `turn`. */
  | { kind: 'new'; turn: number; fresh: string[]; duplicates: string[] }
  /**
   * These exact messages already hold unfinished turn `turn` (an activity retry, or the abandoned
   * batch again), or finished turn `turn` when it is the one proposed (a retry of the step that
   * finished it).
   */
  | { kind: 'resume'; turn: number; duplicates: string[] }
  /** Every message was seen before: nothing to answer. */
  | { kind: 'duplicate'; duplicates: string[] };

export function chooseTurn(facts: TurnFacts): TurnChoice {
  const knownIds = new Set(facts.known.map((k) => k.messageId));
  const fresh = facts.batch.filter((id) => !knownIds.has(id));
  if (fresh.length === 0) {
    const inBatch = new Set(facts.batch);
    const open = facts.known.find(
      (k) => !k.answered && (facts.idsAtTurn.get(k.turn) ?? []).every((id) => inBatch.has(id)),
    );
    // Answered in the very turn the workflow proposes: the workflow never learnt that turn ended,
    // so the step that finished it is being retried (its worker died after the finish, or in the
    // send that follows it; src/activities/turnSteps.ts). It resumes that turn: the recorded answer
    // is returned again and the ledger sends what is not sent yet.
    const retried = facts.known.find(
      (k) =>
        k.answered &&
        k.turn === facts.proposed &&
        (facts.idsAtTurn.get(k.turn) ?? []).every((id) => inBatch.has(id)),
    );
    const resumed = open ?? retried;
    if (resumed) {
      return {
        kind: 'resume',
        turn: resumed.turn,
        duplicates: facts.known.filter((k) => k.turn !== resumed.turn).map((k) => k.messageId),
      };
    }
    return { kind: 'duplicate', duplicates: [...knownIds] };
  }
  // Seen messages in a batch with new ones were answered (or abandoned with their run): not again.
  const turn = facts.proposedTaken ? Math.max(facts.highest, facts.proposed) + 1 : facts.proposed;
  return { kind: 'new', turn, fresh, duplicates: [...knownIds] };
}
