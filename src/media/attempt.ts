import { Context } from '@temporalio/activity';

/**
 * When the running activity attempt must be done, and when its first attempt began, for the time
 * bounds of media fetching (src/media/resolve.ts). Outside an activity (unit tests): no bounds.
 */
export interface AttemptTimes {
  /** Epoch ms the first attempt was scheduled. */
  firstAttemptAt?: number;
  /** Epoch ms by which this attempt must have returned (its start-to-close timeout). */
  attemptEndsAt?: number;
}

export function activityAttemptTimes(): AttemptTimes {
  let info;
  try {
    info = Context.current().info;
  } catch {
    return {};
  }
  return {
    firstAttemptAt: info.scheduledTimestampMs,
    ...(info.startToCloseTimeoutMs > 0
      ? { attemptEndsAt: info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs }
      : {}),
  };
}
