/**
 * Burst coalescing: people on WhatsApp send three short lines for one thought. A turn waits until
 * the conversation has been quiet for `quietMs` after the newest message, but never longer than
 * `maxWaitMs` after the oldest waiting one; then every waiting message goes into one turn, in order.
 *
 * Pure: times are workflow time in epoch milliseconds, passed in, so replay decides the same way.
 */
export interface BurstSettings {
  /** Quiet time after the newest message before the turn starts; 0 answers at once. */
  quietMs: number;
  /** Upper bound on how long the oldest waiting message waits for the burst to end. */
  maxWaitMs: number;
}

export type BurstDecision =
  { kind: 'idle' } | { kind: 'take'; count: number } | { kind: 'wait'; untilMs: number };

export function decideBurst(
  arrivals: readonly number[],
  nowMs: number,
  settings: BurstSettings,
): BurstDecision {
  if (arrivals.length === 0) return { kind: 'idle' };
  if (settings.quietMs <= 0) return { kind: 'take', count: arrivals.length };
  const oldest = arrivals[0]!;
  const newest = arrivals[arrivals.length - 1]!;
  const deadline = Math.min(newest + settings.quietMs, oldest + Math.max(settings.maxWaitMs, 0));
  if (nowMs >= deadline) return { kind: 'take', count: arrivals.length };
  return { kind: 'wait', untilMs: deadline };
}

export const NO_BURST: BurstSettings = { quietMs: 0, maxWaitMs: 0 };
