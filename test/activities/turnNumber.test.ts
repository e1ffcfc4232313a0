import { describe, expect, it } from 'vitest';
import { chooseTurn, type TurnFacts } from '../../src/activities/turnNumber.js';

const facts = (over: Partial<TurnFacts>): TurnFacts => ({
  batch: ['m'],
  known: [],
  idsAtTurn: new Map(),
  proposed: 3,
  proposedTaken: false,
  highest: 2,
  ...over,
});

describe('chooseTurn', () => {
  it('takes the proposed turn when it is free', () => {
    expect(chooseTurn(facts({}))).toEqual({ kind: 'new', turn: 3, fresh: ['m'], duplicates: [] });
  });

  it('skips a turn an ended run left behind: the new message gets a turn of its own', () => {
    const choice = chooseTurn(
      facts({
        known: [],
        idsAtTurn: new Map(),
        proposedTaken: true,
        highest: 3,
      }),
    );
    expect(choice).toEqual({ kind: 'new', turn: 4, fresh: ['m'], duplicates: [] });
  });

  it('after a reset to an earlier point, numbers past everything already used', () => {
    expect(chooseTurn(facts({ proposed: 2, proposedTaken: true, highest: 9 }))).toMatchObject({ turn: 10 });
  });

  it('resumes the unfinished turn these exact messages hold (a retry of the activity)', () => {
    const choice = chooseTurn(
      facts({
        batch: ['a', 'b'],
        known: [
          { messageId: 'a', turn: 4, answered: false },
          { messageId: 'b', turn: 4, answered: false },
        ],
        idsAtTurn: new Map([[4, ['a', 'b']]]),
        proposed: 3,
        proposedTaken: true,
        highest: 4,
      }),
    );
    expect(choice).toEqual({ kind: 'resume', turn: 4, duplicates: [] });
  });

  it('messages answered before are duplicates, alone or beside new ones', () => {
    const known = [{ messageId: 'a', turn: 1, answered: true }];
    const idsAtTurn = new Map([[1, ['a']]]);
    expect(chooseTurn(facts({ batch: ['a'], known, idsAtTurn }))).toEqual({
      kind: 'duplicate',
      duplicates: ['a'],
    });
    expect(chooseTurn(facts({ batch: ['a', 'b'], known, idsAtTurn }))).toEqual({
      kind: 'new',
      turn: 3,
      fresh: ['b'],
      duplicates: ['a'],
    });
  });

  it('does not resume a turn that holds other messages too', () => {
    const choice = chooseTurn(
      facts({
        batch: ['a'],
        known: [{ messageId: 'a', turn: 4, answered: false }],
        idsAtTurn: new Map([[4, ['a', 'other']]]),
      }),
    );
    expect(choice).toEqual({ kind: 'duplicate', duplicates: ['a'] });
  });

  it('resumes the finished turn the workflow proposes: the step that finished it is retried', () => {
    // The worker died after the answering step finished turn 3 (or inside its send): the workflow
    // still proposes 3 for the same messages, and the retry returns that turn, not a duplicate.
    const known = [
      { messageId: 'a', turn: 3, answered: true },
      { messageId: 'b', turn: 3, answered: true },
    ];
    const idsAtTurn = new Map([[3, ['a', 'b']]]);
    expect(
      chooseTurn(facts({ batch: ['a', 'b'], known, idsAtTurn, proposedTaken: true, highest: 3 })),
    ).toEqual({ kind: 'resume', turn: 3, duplicates: [] });
    // Answered in an earlier turn than the proposed one: an earlier run answered them.
    expect(
      chooseTurn(
        facts({ batch: ['a', 'b'], known, idsAtTurn, proposed: 4, proposedTaken: false, highest: 3 }),
      ),
    ).toEqual({ kind: 'duplicate', duplicates: ['a', 'b'] });
    // The proposed turn holds other messages too: not this batch's turn.
    expect(
      chooseTurn(facts({ batch: ['a'], known: [known[0]!], idsAtTurn, proposedTaken: true, highest: 3 })),
    ).toEqual({ kind: 'duplicate', duplicates: ['a'] });
  });
});
