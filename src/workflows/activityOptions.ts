import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

/** Postgres bookkeeping: short, retried freely (every one of these activities is idempotent). */
export const bookkeeping: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};

// A model call is retried while the API says retrying can help (429s wait out Retry-After, 5xx,
// connection errors); non-retryable errors fail at once. After 10 minutes the turn gives up.
export const modelOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

export const deliveryOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes' },
};

/**
 * A turn in one hop (src/workflows/turnSteps.ts): steps run as local activities inside the
 * workflow task, each idempotent in Postgres, so the next worker re-runs them after a crash and
 * finds their recorded results.
 */
export const localBookkeeping: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};

/**
 * How long a model call may run inside the workflow task before it is made again as the regular,
 * heartbeating activity. Short: a local activity cannot heartbeat or move to another worker, a
 * worker shutting down waits for it, and the workflow task (and with it the state query) waits too.
 */
export const DEFAULT_LOCAL_MODEL_CALL_MS = 5_000;

export function localModelOptions(budgetMs: number): LocalActivityOptions {
  return { startToCloseTimeout: budgetMs, retry: { maximumAttempts: 1 } };
}

/**
 * Finishing touches the turn's rows, then one send; its start-to-close is the send's lease. Short:
 * after a worker dies inside a send, the next worker re-runs the turn once the workflow task times
 * out (10 s) and sends again as soon as the lease has run out.
 */
export const localFinishOptions: LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
};
