import { describe, expect, it } from 'vitest';
import { decideBurst, NO_BURST } from '../../src/workflows/burst.js';

const settings = { quietMs: 2_000, maxWaitMs: 10_000 };

describe('decideBurst', () => {
  it('is idle with an empty inbox', () => {
    expect(decideBurst([], 0, settings)).toEqual({ kind: 'idle' });
  });

  it('without a quiet window takes everything at once', () => {
    expect(decideBurst([0, 10, 20], 20, NO_BURST)).toEqual({ kind: 'take', count: 3 });
  });

  it('waits for the quiet window after the newest message', () => {
    expect(decideBurst([1_000], 1_500, settings)).toEqual({ kind: 'wait', untilMs: 3_000 });
    expect(decideBurst([1_000, 2_500], 2_600, settings)).toEqual({ kind: 'wait', untilMs: 4_500 });
  });

  it('takes the whole burst once it has been quiet', () => {
    expect(decideBurst([1_000, 1_400, 1_900], 3_900, settings)).toEqual({ kind: 'take', count: 3 });
  });

  it('never waits longer than maxWait after the oldest message, however chatty', () => {
    // A message every second keeps the quiet window from ever closing.
    const arrivals = [0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000];
    expect(decideBurst(arrivals, 9_500, settings)).toEqual({ kind: 'wait', untilMs: 10_000 });
    expect(decideBurst(arrivals, 10_000, settings)).toEqual({ kind: 'take', count: 10 });
  });

  it('a maxWait shorter than the quiet window caps the wait', () => {
    expect(decideBurst([0], 0, { quietMs: 5_000, maxWaitMs: 1_000 })).toEqual({
      kind: 'wait',
      untilMs: 1_000,
    });
  });
});
