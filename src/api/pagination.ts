import { badRequest } from './errors.js';

/**
 * Cursors. Transcript items page by `seq` (the item's id in the API is its sequence number), so
 * `after` is that id. Conversation listings page by (created_at, id), newest first; the cursor is
 * opaque to clients (base64url JSON) so the ordering can change without breaking them.
 */

export interface ListPage<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says there is more. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): ListPage<T> {
  const data = rows.slice(0, limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: rows.length > limit,
  };
}

export interface ConversationCursor {
  /** created_at as Postgres prints it (microseconds kept: a JS Date would drop them). */
  createdAt: string;
  id: string;
}

export function encodeCursor(c: ConversationCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): ConversationCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      !Number.isNaN(Date.parse(value[0]))
    )
      return { createdAt: value[0], id: value[1] };
  } catch {
    // fall through: any malformed cursor gets the same answer
  }
  throw badRequest('cursor is not a cursor this API returned.', 'invalid_cursor', 'cursor');
}
