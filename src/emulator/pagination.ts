import { invalidRequest, invalidType, invalidValue, notFound } from './errors.js';

export type SortOrder = 'asc' | 'desc';

export interface ListQuery {
  limit: number;
  order: SortOrder;
  after?: string;
  before?: string;
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

const single = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;

/** Parses `limit`, `order`, `after`, `before` from a query string with the live API's error wording. */
export function parseListQuery(
  query: Record<string, unknown>,
  defaults: { order: SortOrder; limit?: number } = { order: 'desc' },
): ListQuery {
  const result: ListQuery = { limit: defaults.limit ?? 20, order: defaults.order };
  const limit = single(query.limit);
  if (limit !== undefined) {
    if (!/^-?\d+$/.test(limit.trim())) throw invalidType('limit', 'an integer', limit);
    const n = Number(limit);
    if (n < 1) {
      throw invalidRequest(
        `Invalid 'limit': integer below minimum value. Expected a value greater than or equal to 1, but got ${n} instead.`,
        'limit',
        'integer_below_min_value',
      );
    }
    if (n > 100) {
      throw invalidRequest(
        `Invalid 'limit': integer above maximum value. Expected a value less than or equal to 100, but got ${n} instead.`,
        'limit',
        'integer_above_max_value',
      );
    }
    result.limit = n;
  }
  const order = single(query.order);
  if (order !== undefined) {
    if (order !== 'asc' && order !== 'desc') throw invalidValue('order', order, ['asc', 'desc']);
    result.order = order;
  }
  const after = single(query.after);
  if (after) result.after = after;
  const before = single(query.before);
  if (before) result.before = before;
  return result;
}

/**
 * Cursor paging over items kept in ascending (creation) order. `after`/`before` are ids of
 * items in the requested order; an unknown cursor is a 404 like the live API's.
 */
export function paginate<T>(
  ascending: readonly T[],
  query: ListQuery,
  idOf: (item: T) => string,
): ListPage<T> {
  let ordered = query.order === 'asc' ? [...ascending] : [...ascending].reverse();
  if (query.after !== undefined) {
    const at = ordered.findIndex((i) => idOf(i) === query.after);
    if (at < 0) throw notFound(`No item found with id '${query.after}'.`);
    ordered = ordered.slice(at + 1);
  }
  let hasMoreBefore = false;
  if (query.before !== undefined) {
    const at = ordered.findIndex((i) => idOf(i) === query.before);
    if (at < 0) throw notFound(`No item found with id '${query.before}'.`);
    ordered = ordered.slice(0, at);
    // With `before`, the page is the `limit` items closest to the cursor.
    if (ordered.length > query.limit) {
      ordered = ordered.slice(ordered.length - query.limit);
      hasMoreBefore = true;
    }
  }
  const data = ordered.slice(0, query.limit);
  const first = data[0];
  const last = data[data.length - 1];
  return {
    object: 'list',
    data,
    first_id: first === undefined ? null : idOf(first),
    last_id: last === undefined ? null : idOf(last),
    has_more: hasMoreBefore || ordered.length > query.limit,
  };
}
