import { describe, expect, it } from 'vitest';
import { StatusChanges, type StatusValue } from '../../src/workflows/statusChanges.js';

const writes = (changes: StatusChanges, statuses: StatusValue[]) => statuses.map((s) => changes.next(s));

describe('the status search attribute', () => {
  it('since quiet-turns: a turn that ends as it began writes nothing', () => {
    const changes = new StatusChanges(true);
    expect(writes(changes, ['idle', 'running', 'idle', 'running', 'idle'])).toEqual([
      'idle',
      null,
      null,
      null,
      null,
    ]);
  });

  it('since quiet-turns: a failed turn, an approval wait and a close are written, once each', () => {
    const changes = new StatusChanges(true);
    expect(
      writes(changes, [
        'idle',
        'running',
        'failed',
        'running',
        'failed',
        'running',
        'awaiting_approval',
        'running',
        'idle',
        'closed',
      ]),
    ).toEqual(['idle', null, 'failed', null, null, null, 'awaiting_approval', 'running', 'idle', 'closed']);
  });

  it('before the patch: every value, every turn (recorded histories replay so)', () => {
    const changes = new StatusChanges(false);
    const all: StatusValue[] = ['idle', 'running', 'idle', 'running', 'idle'];
    expect(writes(changes, all)).toEqual(all);
  });
});
