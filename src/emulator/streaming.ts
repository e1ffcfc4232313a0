import type { Response as HttpResponse } from 'express';

/**
 * `stream: true` on `POST /v1/responses`: the finished response replayed as the Responses API's
 * server-sent events, in the order the live API sends them (see ResponseStreamEvent in the OpenAPI
 * document): created, in_progress, then per output item `output_item.added`, its content parts
 * and deltas, `output_item.done`, and last `response.completed` (or `response.incomplete`). Every
 * event carries a `sequence_number` counting from 0. Pure planning here; `writeStream` paces and
 * writes, and is where mid-stream faults (a slow stream, a cut) apply.
 */

export interface StreamEvent {
  type: string;
  sequence_number: number;
  [key: string]: unknown;
}

type Json = Record<string, unknown>;

/** Text in word-sized pieces (a word with the space before it), as a token stream reads. */
export function textPieces(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? (text === '' ? [] : [text]);
}

/** Function-call arguments in pieces of a few characters. */
export function argumentPieces(args: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += size) out.push(args.slice(i, i + size));
  return out;
}

export function responseEvents(response: Json): StreamEvent[] {
  const events: StreamEvent[] = [];
  const push = (e: Omit<StreamEvent, 'sequence_number'>) =>
    events.push({ ...e, sequence_number: events.length } as StreamEvent);
  // The spec types `usage` as an object (not nullable), so the in-progress shell leaves it out.
  const { usage: _usage, ...rest } = response;
  const shell = { ...rest, status: 'in_progress', completed_at: null, incomplete_details: null, output: [] };
  push({ type: 'response.created', response: shell });
  push({ type: 'response.in_progress', response: shell });
  const output = (response.output as Json[] | undefined) ?? [];
  output.forEach((item, outputIndex) => {
    const id = String(item.id);
    if (item.type === 'message') {
      const parts = (item.content as Json[] | undefined) ?? [];
      push({
        type: 'response.output_item.added',
        output_index: outputIndex,
        item: { ...item, status: 'in_progress', content: [] },
      });
      parts.forEach((part, contentIndex) => {
        const where = { item_id: id, output_index: outputIndex, content_index: contentIndex };
        if (part.type !== 'output_text') {
          push({ type: 'response.content_part.added', ...where, part });
          push({ type: 'response.content_part.done', ...where, part });
          return;
        }
        const text = String(part.text ?? '');
        push({
          type: 'response.content_part.added',
          ...where,
          part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
        });
        for (const delta of textPieces(text))
          push({ type: 'response.output_text.delta', ...where, delta, logprobs: [] });
        push({ type: 'response.output_text.done', ...where, text, logprobs: [] });
        push({ type: 'response.content_part.done', ...where, part });
      });
    } else if (item.type === 'function_call') {
      const args = String(item.arguments ?? '');
      push({
        type: 'response.output_item.added',
        output_index: outputIndex,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      for (const delta of argumentPieces(args))
        push({
          type: 'response.function_call_arguments.delta',
          item_id: id,
          output_index: outputIndex,
          delta,
        });
      push({
        type: 'response.function_call_arguments.done',
        item_id: id,
        output_index: outputIndex,
        name: String(item.name),
        arguments: args,
      });
    } else {
      // Reasoning and compaction items arrive whole: added, then done.
      push({ type: 'response.output_item.added', output_index: outputIndex, item });
    }
    push({ type: 'response.output_item.done', output_index: outputIndex, item });
  });
  push({
    type: response.status === 'incomplete' ? 'response.incomplete' : 'response.completed',
    response,
  });
  return events;
}

/** The `error` event the live API sends when a stream fails after it started. */
export function errorEvent(sequenceNumber: number, message: string, code: string | null): StreamEvent {
  return { type: 'error', code, message, param: null, sequence_number: sequenceNumber };
}

export interface StreamFaults {
  /** Delay before each event after the first (a slow stream). */
  eventDelayMs: number;
  /** Close the connection after this many events, without a terminal event (a cut stream). */
  cutAfter: number | null;
  /** Send an `error` event after this many events and end the stream (a server failing mid-stream). */
  errorAfter: number | null;
}

export const NO_STREAM_FAULTS: StreamFaults = { eventDelayMs: 0, cutAfter: null, errorAfter: null };

export function formatSse(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Writes the events as `text/event-stream`. A client that goes away stops the writing; a cut
 * destroys the socket mid-body, as a dropped connection or a crashed upstream does.
 */
export async function writeStream(
  res: HttpResponse,
  events: readonly StreamEvent[],
  faults: StreamFaults,
): Promise<void> {
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  let gone = false;
  res.on('close', () => (gone = true));
  for (let i = 0; i < events.length; i++) {
    if (gone) return;
    if (faults.cutAfter !== null && i >= faults.cutAfter) {
      res.socket?.destroy();
      return;
    }
    if (faults.errorAfter !== null && i >= faults.errorAfter) {
      res.write(
        formatSse(errorEvent(i, 'The server had an error while processing your request.', 'server_error')),
      );
      res.end();
      return;
    }
    if (i > 0 && faults.eventDelayMs > 0) await new Promise((r) => setTimeout(r, faults.eventDelayMs));
    if (gone) return;
    // Each write is handed to the socket before the next: a cut then loses only what was not sent.
    await new Promise<void>((resolve) => res.write(formatSse(events[i]!), () => resolve()));
  }
  res.end();
}
