import { condition, sleep } from '@temporalio/workflow';
import { workflowNow } from './time.js';

/**
 * The wait between turns, ended by the run's idle timeout, with one timer per idle period instead
 * of one per turn (since the patch 'quiet-turns'). `condition(ready, timeout)` starts a timer at
 * every wait and cancels it when a message comes: two history events a turn. Here a timer, once
 * started, is left to fire; when it does, the wait ends only if the conversation has been quiet
 * for the whole timeout since the wait began, else a timer for the rest is started. A busy
 * conversation therefore has one timer event per timeout period, not two per turn.
 */
export class IdleTimer {
  /** When the pending timer fires (workflow time), or null when none is pending. */
  private firesAt: number | null = null;
  private fired = false;
  /** Only the newest timer counts: one started for a longer timeout fires unheeded. */
  private generation = 0;

  /** True when `ready` came true, false when `timeoutMs` passed without it (the run may end). */
  async wait(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return true;
    const deadline = workflowNow() + timeoutMs;
    for (;;) {
      if (this.firesAt === null || this.firesAt > deadline) this.start(deadline);
      await condition(() => ready() || this.fired);
      // A message that lands with the timer is taken: the run does not end on it.
      if (ready()) return true;
      this.fired = false;
      this.firesAt = null;
      if (workflowNow() >= deadline) return false;
    }
  }

  private start(at: number): void {
    const generation = ++this.generation;
    this.firesAt = at;
    this.fired = false;
    void sleep(Math.max(at - workflowNow(), 1)).then(
      () => {
        if (generation === this.generation) this.fired = true;
      },
      // Cancelled with the workflow: the wait it served ends by that cancellation, not here.
      () => {},
    );
  }
}
