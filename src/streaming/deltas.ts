/**
 * What of a Responses stream reaches Threadline's subscribers: text deltas and item boundaries,
 * small and in the order the model produced them. Everything else (reasoning, argument deltas,
 * the response envelope) stays in the model activity. Pure functions; the publisher writes.
 */

export type DeltaKind = 'text' | 'item.added' | 'item.done' | 'superseded';

export interface Delta {
  kind: DeltaKind;
  data: Record<string, unknown>;
}

/** Function-call arguments published with `item.done`, at most this long (the transcript has them whole). */
export const MAX_ARGUMENTS_CHARS = 2_000;

/** The item facts a client shows while the step runs: what it is, never its whole content. */
export function itemSummary(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { type: item.type };
  for (const key of ['id', 'role', 'status', 'name', 'call_id'] as const)
    if (typeof item[key] === 'string') out[key] = item[key];
  if (item.type === 'function_call' && typeof item.arguments === 'string' && item.arguments !== '')
    out.arguments =
      item.arguments.length > MAX_ARGUMENTS_CHARS
        ? item.arguments.slice(0, MAX_ARGUMENTS_CHARS)
        : item.arguments;
  return out;
}

/** A Responses stream event as a delta, or null for an event subscribers do not get. */
export function toDelta(event: { type: string; [k: string]: unknown }): Delta | null {
  switch (event.type) {
    case 'response.output_text.delta':
      return {
        kind: 'text',
        data: {
          outputIndex: event.output_index,
          contentIndex: event.content_index,
          text: String(event.delta ?? ''),
        },
      };
    case 'response.output_item.added':
    case 'response.output_item.done': {
      const item = event.item as Record<string, unknown> | undefined;
      if (!item || item.type === 'reasoning' || item.type === 'compaction') return null;
      return {
        kind: event.type === 'response.output_item.added' ? 'item.added' : 'item.done',
        data: { outputIndex: event.output_index, item: itemSummary(item) },
      };
    }
    default:
      return null;
  }
}

/**
 * Appends a delta to a pending batch, merging text into the last pending text delta of the same
 * content part: rows are written as fast as Postgres takes them, and whatever accumulated while a
 * write was in flight goes out as one row.
 */
export function coalesce(pending: Delta[], next: Delta): void {
  const last = pending.at(-1);
  if (
    last &&
    last.kind === 'text' &&
    next.kind === 'text' &&
    last.data.outputIndex === next.data.outputIndex &&
    last.data.contentIndex === next.data.contentIndex
  ) {
    last.data = { ...last.data, text: String(last.data.text) + String(next.data.text) };
    return;
  }
  pending.push({ kind: next.kind, data: { ...next.data } });
}
