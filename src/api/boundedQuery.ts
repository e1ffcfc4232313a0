/**
 * How long GET conversation waits for the workflow's `state` query. A turn in one hop runs inside
 * one workflow task, and Temporal answers a query only between tasks, so during a turn the query
 * waits for the turn (seconds with a slow model); past this bound the route answers from Postgres.
 */
export const STATE_QUERY_BOUND_MS = 300;

/** The promise's value if it settles within `ms`, else undefined (its later outcome is ignored). */
export async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  // Settling after the bound is not an error anyone waits for.
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
