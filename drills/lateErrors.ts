/**
 * A drill closes its Temporal client connection while a call on it may still be waiting to retry
 * (the API's update callers during a Temporal restart, a schedule's update that timed out). The
 * client's retry timer then calls into the closed channel, and grpc-js throws `Channel has been
 * shut down` from that timer: an uncaught exception that ended the whole drill run after its
 * verdict. That one error, from that one place, is expected after a close and is counted; every
 * other uncaught error still ends the process as Node would.
 */

const SHUT_DOWN = 'Channel has been shut down';

/** A retry of the Temporal client's that fired after its connection was closed on purpose. */
export function isRetryAfterClose(err: unknown): boolean {
  return err instanceof Error && err.message === SHUT_DOWN && /grpc-retry/.test(err.stack ?? '');
}

let installed = false;
let swallowed = 0;

/** Installs the filter once per process; returns how many late retries it has absorbed so far. */
export function absorbRetriesAfterClose(): () => number {
  if (!installed) {
    installed = true;
    process.on('uncaughtException', (err) => {
      if (isRetryAfterClose(err)) {
        swallowed += 1;
        return;
      }
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    });
  }
  return () => swallowed;
}
