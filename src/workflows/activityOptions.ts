import type { ActivityOptions } from '@temporalio/workflow';

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
 * How long an attempt's claim on a send lasts: after a worker dies inside a send, the retry sends
 * again under the same key once it has run out, so it is short. A send made by the model step that
 * answered the turn claims it for as long (src/activities/turnSteps.ts).
 */
export const SEND_LEASE_MS = 15_000;

/**
 * Finishing a turn and sending its reply, in one activity (src/workflows/turnSteps.ts). Its
 * start-to-close is the send's lease; the retries last as long as delivery's.
 */
export const finishAndDeliverOptions: ActivityOptions = {
  startToCloseTimeout: SEND_LEASE_MS,
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes' },
};
