/**
 * Server-Sent Events from Postgres. Any API instance can serve any stream, and a client that
 * reconnects with Last-Event-ID gets exactly what it missed: the event id is a position in two
 * sequences the store already has, `{seq}-{turns}` (the last transcript item sent, the last turn
 * whose completion was sent). Pure planning here; the route polls and writes.
 */

export interface EventCursor {
  seq: number;
  turns: number;
}

export interface StreamEvent {
  id: string;
  event: 'item' | 'reply' | 'turn.started' | 'turn.completed';
  data: unknown;
}

export interface EventItem {
  seq: number;
  turn: number | null;
  itemKey: string | null;
  item: Record<string, unknown>;
  createdAt: string;
}

export function parseEventId(value: string | undefined): EventCursor | null {
  const match = /^(\d{1,15})-(\d{1,9})$/.exec(value?.trim() ?? '');
  return match ? { seq: Number(match[1]), turns: Number(match[2]) } : null;
}

export const formatEventId = (c: EventCursor): string => `${c.seq}-${c.turns}`;

/** One SSE frame. JSON has no raw newlines, so one `data:` line is always enough. */
export function formatEvent(e: StreamEvent): string {
  return `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** The text of an assistant message item, or null for anything else. */
export function replyText(item: Record<string, unknown>): string | null {
  if (item.type !== 'message' || item.role !== 'assistant' || !Array.isArray(item.content)) return null;
  return (item.content as { type?: string; text?: string }[])
    .filter((p) => p.type === 'output_text')
    .map((p) => p.text ?? '')
    .join('');
}

/**
 * The events for a batch of new items. `completedTurns` was read before the items, so every item of
 * those turns is already in `items` or earlier; a completion is announced once the items of its turn
 * have gone out (before the first item of a later turn, or at the end of a batch that was not cut
 * short by its limit).
 */
export function planEvents(
  cursor: EventCursor,
  items: EventItem[],
  completedTurns: number,
  batchFull: boolean,
  failedTurns: ReadonlySet<number>,
): { events: StreamEvent[]; cursor: EventCursor } {
  let { seq, turns } = cursor;
  const events: StreamEvent[] = [];
  const completeUpTo = (limit: number) => {
    while (turns < Math.min(limit, completedTurns)) {
      turns += 1;
      events.push({
        id: formatEventId({ seq, turns }),
        event: 'turn.completed',
        data: { turn: turns, status: failedTurns.has(turns) ? 'failed' : 'answered' },
      });
    }
  };
  for (const it of items) {
    if (it.turn !== null) completeUpTo(it.turn - 1);
    if (it.itemKey !== null && it.turn !== null && it.itemKey === `t${it.turn}/in/0`) {
      // The position before the item: a client that drops here gets this event and the item again.
      events.push({ id: formatEventId({ seq, turns }), event: 'turn.started', data: { turn: it.turn } });
    }
    seq = it.seq;
    const id = formatEventId({ seq, turns });
    const text = replyText(it.item);
    const base = { id: String(it.seq), turn: it.turn, createdAt: it.createdAt };
    events.push(
      text !== null
        ? { id, event: 'reply', data: { ...base, text, status: it.item.status ?? null } }
        : { id, event: 'item', data: { ...base, item: it.item } },
    );
  }
  if (!batchFull) completeUpTo(completedTurns);
  return { events, cursor: { seq, turns } };
}
