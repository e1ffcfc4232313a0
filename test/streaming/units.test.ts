import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/api/openapi.js';
import {
  formatEventId,
  parseEventId,
  planEvents,
  type EventDelta,
  type EventItem,
} from '../../src/api/events.js';
import {
  coalesce,
  itemSummary,
  MAX_ARGUMENTS_CHARS,
  toDelta,
  type Delta,
} from '../../src/streaming/deltas.js';

const user = (seq: number, turn: number): EventItem => ({
  seq,
  turn,
  itemKey: `t${turn}/in/0`,
  item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
  createdAt: 'now',
});
const reply = (seq: number, turn: number, text: string): EventItem => ({
  seq,
  turn,
  itemKey: `t${turn}/s1/o0`,
  item: { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text }] },
  createdAt: 'now',
});
const text = (turn: number, seq: number, t: string, outputSeq: number | null, attempt = 1): EventDelta => ({
  turn,
  step: 1,
  attempt,
  seq,
  kind: 'text',
  data: { outputIndex: 0, contentIndex: 0, text: t },
  outputSeq,
});

describe('planEvents with stream deltas', () => {
  it('a live step: deltas after the items, each id a resumable position', () => {
    const { events, cursor } = planEvents({ seq: 0, turns: 0 }, [user(1, 1)], 0, false, new Set(), [
      text(1, 1, 'Hel', null),
      text(1, 2, 'lo', null),
    ]);
    expect(events.map((e) => `${e.event}@${e.id}`)).toEqual([
      'turn.started@0-0',
      'item@1-0',
      'stream.delta@1-0-1.1.1.1',
      'stream.delta@1-0-1.1.1.2',
    ]);
    expect(events[2]!.data).toEqual({
      turn: 1,
      step: 1,
      attempt: 1,
      outputIndex: 0,
      contentIndex: 0,
      text: 'Hel',
    });
    expect(cursor).toEqual({ seq: 1, turns: 0, delta: { turn: 1, step: 1, attempt: 1, seq: 2 } });
  });

  it('mid-step, the step finishes: the rest of its deltas, then its reply, then the completion', () => {
    const mid = { seq: 1, turns: 0, delta: { turn: 1, step: 1, attempt: 1, seq: 1 } };
    const { events } = planEvents(mid, [reply(2, 1, 'Hello')], 1, false, new Set(), [text(1, 2, 'lo', 2)]);
    expect(events.map((e) => `${e.event}@${e.id}`)).toEqual([
      'stream.delta@1-0-1.1.1.2',
      'reply@2-0-1.1.1.2',
      'turn.completed@2-1-1.1.1.2',
    ]);
  });

  it('a client that had not begun the step gets its reply only, at the same ids', () => {
    const { events } = planEvents({ seq: 1, turns: 0 }, [reply(2, 1, 'Hello')], 1, false, new Set(), [
      text(1, 1, 'Hel', 2),
      text(1, 2, 'lo', 2),
    ]);
    expect(events.map((e) => `${e.event}@${e.id}`)).toEqual([
      'reply@2-0-1.1.1.2',
      'turn.completed@2-1-1.1.1.2',
    ]);
  });

  it('a failed turn drops its unrecorded stream; a retry after a superseded marker is sent whole', () => {
    const failed = planEvents({ seq: 1, turns: 0 }, [], 1, false, new Set([1]), [text(1, 1, 'Hel', null)]);
    expect(failed.events.map((e) => e.event)).toEqual(['turn.completed']);
    const mid = { seq: 1, turns: 0, delta: { turn: 1, step: 1, attempt: 1, seq: 1 } };
    const superseded: EventDelta = {
      ...text(1, 0, '', null, 2),
      kind: 'superseded',
      data: { reason: 'retry' },
    };
    const retried = planEvents(mid, [], 0, false, new Set(), [superseded, text(1, 1, 'Hi', null, 2)]);
    expect(retried.events.map((e) => `${e.event}@${e.id}`)).toEqual([
      'stream.superseded@1-0-1.1.2.0',
      'stream.delta@1-0-1.1.2.1',
    ]);
  });

  it('a full batch holds the deltas whose place is after it', () => {
    const { events, cursor } = planEvents({ seq: 0, turns: 0 }, [user(1, 1)], 0, true, new Set(), [
      text(1, 1, 'Hel', null),
    ]);
    expect(events.map((e) => e.event)).toEqual(['turn.started', 'item']);
    expect(cursor.delta).toBeUndefined();
  });

  it('ids: old two-part ids still parse; four-part delta positions round-trip; junk is refused', () => {
    expect(parseEventId('12-3')).toEqual({ seq: 12, turns: 3 });
    const c = { seq: 12, turns: 3, delta: { turn: 4, step: 2, attempt: 3, seq: 99 } };
    expect(formatEventId(c)).toBe('12-3-4.2.3.99');
    expect(parseEventId('12-3-4.2.3.99')).toEqual(c);
    for (const bad of ['12-3-4.2.3', '12-3-', 'x-1', '12-3-4.2.3.99.1']) expect(parseEventId(bad)).toBeNull();
  });
});

describe('deltas', () => {
  it('text deltas and message/function-call boundaries; reasoning and argument deltas stay in', () => {
    expect(
      toDelta({ type: 'response.output_text.delta', output_index: 1, content_index: 0, delta: 'Hi' }),
    ).toEqual({ kind: 'text', data: { outputIndex: 1, contentIndex: 0, text: 'Hi' } });
    expect(
      toDelta({
        type: 'response.output_item.added',
        output_index: 0,
        item: { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '' },
      }),
    ).toEqual({
      kind: 'item.added',
      data: {
        outputIndex: 0,
        item: { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather' },
      },
    });
    expect(
      toDelta({ type: 'response.output_item.added', output_index: 0, item: { type: 'reasoning' } }),
    ).toBeNull();
    expect(toDelta({ type: 'response.function_call_arguments.delta', delta: '{' })).toBeNull();
    expect(toDelta({ type: 'response.completed' })).toBeNull();
    const long = itemSummary({ type: 'function_call', arguments: 'x'.repeat(MAX_ARGUMENTS_CHARS + 10) });
    expect(String(long.arguments)).toHaveLength(MAX_ARGUMENTS_CHARS);
  });

  it('coalesces text of one content part while a write is in flight, nothing else', () => {
    const pending: Delta[] = [];
    const t = (s: string, contentIndex = 0): Delta => ({
      kind: 'text',
      data: { outputIndex: 0, contentIndex, text: s },
    });
    coalesce(pending, t('a'));
    coalesce(pending, t('b'));
    coalesce(pending, t('c', 1));
    coalesce(pending, { kind: 'superseded', data: {} });
    coalesce(pending, t('d', 1));
    expect(pending.map((d) => d.data.text ?? d.kind)).toEqual(['ab', 'c', 'superseded', 'd']);
  });
});

describe('the OpenAPI document', () => {
  it('names the stream events and their payloads', () => {
    const doc = buildOpenApi([], { title: 't', version: '1' }) as {
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    };
    const { StreamDelta, StreamItem, StreamSuperseded } = doc.components.schemas;
    expect(StreamDelta?.required).toEqual(expect.arrayContaining(['turn', 'step', 'attempt', 'text']));
    expect(Object.keys(StreamItem?.properties ?? {})).toContain('item');
    expect(StreamSuperseded?.properties?.reason).toMatchObject({ enum: ['retry', 'recall'] });
  });
});
