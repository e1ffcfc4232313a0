/**
 * An update the server handed to a workflow task that then failed (for one, a run's idle-timeout
 * completion refused because a message arrived meanwhile) is aborted, non-retryably: the workflow
 * never accepted it (temporalio/temporal docs/architecture/workflow-update.md, "Aborting an
 * Update"). Sending it again is therefore safe for every update, and is what the caller would do.
 */

/** Attempts at an update the server aborts with its workflow task, before the caller gets a 503. */
export const ABORTED_TRIES = 3;

/** The server's fixed text for an aborted update (code FAILED_PRECONDITION). */
export function abortedWithItsTask(err: unknown): boolean {
  return err instanceof Error && /due to unexpected workflow task failure/.test(err.message);
}

/**
 * Runs `attempt` again while the server aborts it with its task, backing off 100 ms, 200 ms, ...;
 * after ABORTED_TRIES aborts it throws `gaveUp()` (a 503 the caller retries). `attempt` must build
 * its update (and any with-start operation, which is single-use) afresh each time.
 */
export async function untilNotAborted<T>(attempt: () => Promise<T>, gaveUp: () => Error): Promise<T> {
  for (let tries = 1; ; tries += 1) {
    try {
      return await attempt();
    } catch (err) {
      if (!abortedWithItsTask(err)) throw err;
      if (tries >= ABORTED_TRIES) throw gaveUp();
      await new Promise((resolve) => setTimeout(resolve, 100 * tries));
    }
  }
}
