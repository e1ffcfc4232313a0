import { badRequest } from './errors.js';
import { chars } from './schemas.js';

/**
 * Cursors. Transcript items page by `seq` (the item's id in the API is its sequence number), so
 * `after` is that id. Conversation listings page by (created_at, id), newest first; the cursor is
 * that pair.
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
  /** created_at in microseconds since the epoch (a JS Date would drop the microseconds). */
  createdAtMicros: string;
  id: string;
}

export function encodeCursor(c: ConversationCursor): string {
  return `${c.createdAtMicros}:${c.id}`;
}

/**
 * `<created_at in µs>:<conversation id>`, a position in the listing: every string of this shape
 * is a cursor (the page after that position), so the pattern the document states is the whole rule.
 */
// eslint-disable-next-line no-control-regex -- the pattern names the control characters it refuses
const CURSOR = /^\d{1,16}:[^\x00-\x1F\x7F-\x9F]+$/;
export const conversationCursor = chars(3, 1024)
  .refine((v) => CURSOR.test(v), {
    message: 'is not a cursor this API returned (pass `next_cursor` of the previous page)',
    params: { code: 'invalid_cursor' },
  })
  // A refine (not .regex) so the error can carry its own code; the document gets the same pattern.
  .meta({ pattern: CURSOR.source })
  .transform((v): ConversationCursor => {
    const at = v.indexOf(':');
    return { createdAtMicros: v.slice(0, at), id: v.slice(at + 1) };
  });

export function decodeCursor(cursor: string): ConversationCursor {
  const parsed = conversationCursor.safeParse(cursor);
  if (parsed.success) return parsed.data;
  throw badRequest('cursor is not a cursor this API returned.', 'invalid_cursor', 'cursor');
}
