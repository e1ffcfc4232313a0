/**
 * Workflow time in epoch milliseconds. Inside Temporal's sandbox `Date` is replaced by the time of
 * the current workflow task, recorded in history, so this is deterministic under replay, unlike a
 * real clock. This is the one sanctioned use; the lint rule forbids `Date.now()` everywhere else in
 * workflow code so that nobody reaches for the clock by habit.
 */
export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-properties
  return Date.now();
}
