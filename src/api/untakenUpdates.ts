import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';

/**
 * Two answers from the server mean the workflow never accepted an update, so sending it again is
 * safe for every update (a message is answered once per id; operator updates are idempotent or
 * refuse a second decision), and is what the caller would do anyway:
 *
 * - aborted with its workflow task: the update was handed to a task that failed (for one, a run's
 *   idle-timeout completion refused because a message arrived meanwhile), non-retryably
 *   (temporalio/temporal docs/architecture/workflow-update.md, "Aborting an Update");
 * - rejected as not processed: the task it was handed to completed without an answer to it (the
 *   schedules drill saw it around worker restarts; temporalio/temporal#5169 made it a rejection).
 */

/** Attempts at an update the server did not take, before the caller gets a 503. */
export const UNTAKEN_TRIES = 3;

export function neverTaken(err: unknown): boolean {
  if (err instanceof WorkflowUpdateFailedError)
    return err.cause instanceof ApplicationFailure && /wasn't processed by worker/.test(err.cause.message);
  // The server's fixed text for an aborted update (code FAILED_PRECONDITION): on the error itself
  // after update-with-start, on its cause after a plain update (the SDK wraps it in ServiceError).
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth += 1) {
    const details = (e as { details?: unknown }).details;
    const text = `${e.message} ${typeof details === 'string' ? details : ''}`;
    if (/due to unexpected workflow task failure/.test(text)) return true;
  }
  return false;
}

/**
 * Runs `attempt` again while the server does not take its update, backing off 100 ms, 200 ms, ...;
 * after UNTAKEN_TRIES it throws `gaveUp()` (a 503 the caller retries). `attempt` must build its
 * update (and any with-start operation, which is single-use) afresh each time.
 */
export async function untilTaken<T>(attempt: () => Promise<T>, gaveUp: () => Error): Promise<T> {
  for (let tries = 1; ; tries += 1) {
    try {
      return await attempt();
    } catch (err) {
      if (!neverTaken(err)) throw err;
      if (tries >= UNTAKEN_TRIES) throw gaveUp();
      await new Promise((resolve) => setTimeout(resolve, 100 * tries));
    }
  }
}
