/**
 * Server-Sent Events from Postgres. Any API instance can serve any stream, and a client that
 * reconnects with Last-Event-ID gets exactly what it missed: the event id is a position in the
 * sequences the store already has, `{seq}-{turns}` (the last transcript item sent, the last turn
 * whose completion was sent), and while a model step streams `{seq}-{turns}-{t}.{s}.{a}.{n}` (the
 * last stream delta sent: turn, step, attempt, seq in stream_events). Pure planning here; the
 * route reads and writes. docs/streaming.md describes the events.
 */

/** A row of stream_events: (turn, step, attempt, seq) orders a conversation's deltas. */
export interface DeltaPosition {
  turn: number;
  step: number;
  attempt: number;
  seq: number;
}

export interface EventCursor {
  seq: number;
  turns: number;
  /** The last stream delta sent (or skipped); absent before the first. */
  delta?: DeltaPosition;
}

export type StreamEventName =
  | 'item'
  | 'reply'
  | 'turn.started'
  | 'turn.completed'
  | 'stream.delta'
  | 'stream.item.added'
  | 'stream.item.done'
  | 'stream.superseded';

export interface StreamEvent {
  id: string;
  event: StreamEventName;
  data: unknown;
}

export interface EventDelta extends DeltaPosition {
  kind: string;
  data: Record<string, unknown>;
  /** The seq of the step's first output item in the transcript, or null while it has none. */
  outputSeq: number | null;
}

const DELTA_EVENTS: Record<string, StreamEventName> = {
  text: 'stream.delta',
  'item.added': 'stream.item.added',
  'item.done': 'stream.item.done',
  superseded: 'stream.superseded',
};

export interface EventItem {
  seq: number;
  turn: number | null;
  itemKey: string | null;
  item: Record<string, unknown>;
  createdAt: string;
  /** An operator's reply (human takeover): who wrote it. */
  operator?: string | null;
}

export function parseEventId(value: string | undefined): EventCursor | null {
  const match = /^(\d{1,15})-(\d{1,9})(?:-(\d{1,9})\.(\d{1,4})\.(\d{1,4})\.(\d{1,9}))?$/.exec(
    value?.trim() ?? '',
  );
  if (!match) return null;
  const cursor: EventCursor = { seq: Number(match[1]), turns: Number(match[2]) };
  if (match[3] !== undefined)
    cursor.delta = {
      turn: Number(match[3]),
      step: Number(match[4]),
      attempt: Number(match[5]),
      seq: Number(match[6]),
    };
  return cursor;
}

export const formatEventId = (c: EventCursor): string =>
  c.delta
    ? `${c.seq}-${c.turns}-${c.delta.turn}.${c.delta.step}.${c.delta.attempt}.${c.delta.seq}`
    : `${c.seq}-${c.turns}`;

/**
 * Where a delta goes in the stream: before the transcript item at `seq` (its step's first output)
 * or after the batch (a step still streaming); `send` false when this client does not need it. A
 * delta it does not need still takes its place, so the cursor of every event is a function of
 * where the event is, not of when the client read it: the same event has the same id on every
 * connection and every API instance.
 */
export function deltaSlot(
  d: EventDelta,
  sentSeq: number,
  completedTurns: number,
  sentDelta?: DeltaPosition,
): { send: boolean; before: number | null } {
  if (d.outputSeq === null) {
    // A finished turn whose step recorded nothing (it failed): turn.completed tells the client.
    return { send: d.turn > completedTurns, before: null };
  }
  // Sent only to a client that had begun this step's stream (the rest of it, a superseded
  // marker and the retry included). Whoever else gets the step's output items, which are the
  // answer; so does a client whose cursor is already past them.
  const midStep = sentDelta !== undefined && sentDelta.turn === d.turn && sentDelta.step === d.step;
  return { send: midStep && d.outputSeq > sentSeq, before: Math.max(d.outputSeq, sentSeq) };
}

function deltaEvent(d: EventDelta): { event: StreamEventName; data: Record<string, unknown> } {
  const where = { turn: d.turn, step: d.step, attempt: d.attempt };
  return { event: DELTA_EVENTS[d.kind] ?? 'stream.delta', data: { ...where, ...d.data } };
}

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
  deltas: readonly EventDelta[] = [],
  /**
   * The delta batch hit its limit before the stream of the step whose first output is at this seq
   * ended: the items were cut before it, and the deltas that go before it are sent at the end.
   */
  deltasUpTo?: number,
): { events: StreamEvent[]; cursor: EventCursor } {
  let { seq, turns } = cursor;
  let delta = cursor.delta;
  const sentSeq = cursor.seq;
  const events: StreamEvent[] = [];
  const position = () => ({ seq, turns, ...(delta ? { delta } : {}) });
  let next = 0;
  /** Sends the deltas that go before transcript item `upTo` (all the rest with Infinity), in order. */
  const sendDeltas = (upTo: number) => {
    for (; next < deltas.length; next++) {
      const d = deltas[next]!;
      const slot = deltaSlot(d, sentSeq, completedTurns, cursor.delta);
      if (slot.before !== null ? slot.before > upTo : upTo !== Infinity) return;
      delta = { turn: d.turn, step: d.step, attempt: d.attempt, seq: d.seq };
      if (slot.send) events.push({ id: formatEventId(position()), ...deltaEvent(d) });
    }
  };
  const completeUpTo = (limit: number) => {
    while (turns < Math.min(limit, completedTurns)) {
      turns += 1;
      events.push({
        id: formatEventId(position()),
        event: 'turn.completed',
        data: { turn: turns, status: failedTurns.has(turns) ? 'failed' : 'answered' },
      });
    }
  };
  for (const it of items) {
    if (it.turn !== null) completeUpTo(it.turn - 1);
    if (it.itemKey !== null && it.turn !== null && it.itemKey === `t${it.turn}/in/0`) {
      // The position before the item: a client that drops here gets this event and the item again.
      events.push({ id: formatEventId(position()), event: 'turn.started', data: { turn: it.turn } });
    }
    // A step's stream goes out before its output items.
    sendDeltas(it.seq);
    seq = it.seq;
    const id = formatEventId(position());
    const text = replyText(it.item);
    const base = { id: String(it.seq), turn: it.turn, createdAt: it.createdAt };
    events.push(
      text !== null
        ? {
            id,
            event: 'reply',
            data: {
              ...base,
              text,
              status: it.item.status ?? null,
              ...(it.operator ? { operator: it.operator } : {}),
            },
          }
        : { id, event: 'item', data: { ...base, item: it.item } },
    );
  }
  if (!batchFull) {
    completeUpTo(completedTurns);
    // The step still streaming (no output yet), or one whose output is newer than this batch.
    sendDeltas(Infinity);
  } else if (deltasUpTo !== undefined) sendDeltas(deltasUpTo);
  return { events, cursor: position() };
}
