/** Emulator time: wall clock plus an offset that tests can push forward (retention, created_at). */
export interface EmulatorClock {
  /** Current emulator time, epoch milliseconds. */
  now(): number;
  /** Moves emulator time forward; negative values are rejected. */
  advance(ms: number): void;
}

export class OffsetClock implements EmulatorClock {
  constructor(
    private offsetMs = 0,
    private readonly wallClock: () => number = Date.now,
  ) {}

  now(): number {
    return this.wallClock() + this.offsetMs;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`clock.advance expects a non-negative number of ms, got ${ms}`);
    this.offsetMs += ms;
  }

  get offset(): number {
    return this.offsetMs;
  }

  reset(offsetMs = 0): void {
    this.offsetMs = offsetMs;
  }
}

export const toUnixSeconds = (ms: number): number => Math.floor(ms / 1000);
