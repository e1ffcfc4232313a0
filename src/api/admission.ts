/**
 * First come, first served hand-over of synchronous messages to their conversations, per API
 * process. Under overload the Temporal server takes a cached conversation's task from its worker's
 * sticky queue at once, while a new conversation's first task waits on the shared queue behind all
 * the others: with 1,000 conversations a first turn waited 38 times as long as a later one
 * (docs/benchmarks.md, first-turn row). Here at most `limit` messages are being handed over (sent,
 * not yet accepted by their workflow) at a time, and the rest wait in arrival order, new
 * conversation or not. A slot is held only until the workflow accepts the message, so a long turn
 * (a reasoning model, a slow tool) holds none.
 */
export interface Admission {
  /**
   * Resolves with a release function, once it is this caller's turn; rejects with `AdmissionTimeout`
   * if `deadline` (epoch ms) passes first: the message was not handed over, so nothing was sent.
   */
  enter(deadline: number): Promise<() => void>;
  /** Messages being handed over, and messages waiting for a slot. */
  readonly load: { handing: number; waiting: number };
}

export class AdmissionTimeout extends Error {
  constructor() {
    super('Waited too long for a slot to hand the message over');
    this.name = 'AdmissionTimeout';
  }
}

interface Waiter {
  admit(): void;
  timer: NodeJS.Timeout;
}

/** `limit` 0: every message is handed over at once (no queue). */
export function createAdmission(limit: number): Admission {
  let handing = 0;
  const queue: Waiter[] = [];

  const releaser = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      handing -= 1;
      const next = queue.shift();
      if (next) {
        clearTimeout(next.timer);
        handing += 1;
        next.admit();
      }
    };
  };

  return {
    enter(deadline) {
      if (limit === 0) return Promise.resolve(() => {});
      if (handing < limit && queue.length === 0) {
        handing += 1;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          admit: () => resolve(releaser()),
          timer: setTimeout(
            () => {
              queue.splice(queue.indexOf(waiter), 1);
              reject(new AdmissionTimeout());
            },
            Math.max(0, deadline - Date.now()),
          ),
        };
        queue.push(waiter);
      });
    },
    get load() {
      return { handing, waiting: queue.length };
    },
  };
}
