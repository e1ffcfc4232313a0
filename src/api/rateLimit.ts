/**
 * A token bucket per API key: `perMinute` requests a minute on average, bursts up to `perMinute`.
 * In memory, per API instance: with N instances behind a balancer a key gets up to N times the
 * limit (docs/api.md). Pure apart from the map it keeps; time is passed in.
 */

export interface Bucket {
  tokens: number;
  updatedMs: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole seconds until one token is back (0 when allowed). */
  retryAfterSeconds: number;
  remaining: number;
}

export function take(bucket: Bucket | undefined, nowMs: number, perMinute: number): [Bucket, TakeResult] {
  const ratePerMs = perMinute / 60_000;
  const start = bucket ?? { tokens: perMinute, updatedMs: nowMs };
  const tokens = Math.min(perMinute, start.tokens + Math.max(0, nowMs - start.updatedMs) * ratePerMs);
  if (tokens >= 1) {
    return [
      { tokens: tokens - 1, updatedMs: nowMs },
      { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(tokens - 1) },
    ];
  }
  const waitMs = (1 - tokens) / ratePerMs;
  return [
    { tokens, updatedMs: nowMs },
    { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), remaining: 0 },
  ];
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): TakeResult {
    const [bucket, result] = take(this.buckets.get(key), this.now(), this.perMinute);
    this.buckets.set(key, bucket);
    // Full buckets carry no information: drop them so idle keys do not accumulate.
    if (this.buckets.size > 10_000) this.sweep();
    return result;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.updatedMs) * this.perMinute) / 60_000 >= this.perMinute)
        this.buckets.delete(key);
    }
  }
}
