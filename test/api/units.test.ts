import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { bearerToken } from '../../src/api/auth.js';
import { ApiError, toErrorResponse } from '../../src/api/errors.js';
import { formatEvent, parseEventId, planEvents, type EventItem } from '../../src/api/events.js';
import { decodeCursor, encodeCursor, toPage } from '../../src/api/pagination.js';
import { take } from '../../src/api/rateLimit.js';
import { formatSnapshot, LATENCY_BUCKETS } from '../../src/metrics/postgres.js';

describe('toErrorResponse', () => {
  it.each([
    [z.object({ a: z.string() }).safeParse({ a: 1 }).error, 400, 'invalid_value', 'a'],
    [Object.assign(new Error('x'), { type: 'entity.parse.failed' }), 400, 'invalid_json', null],
    [Object.assign(new Error('x'), { type: 'entity.too.large' }), 413, 'body_too_large', null],
    [new URIError('URI malformed'), 400, 'invalid_path', null],
    [new ApiError(409, 'conflict_error', 'busy', 'conversation_busy'), 409, 'conversation_busy', null],
  ])('maps %s', (err, status, code, param) => {
    const out = toErrorResponse(err);
    expect(out).toMatchObject({ status, unexpected: false, body: { error: { code, param } } });
  });

  it('never shows an unexpected error to the client', () => {
    const out = toErrorResponse(new Error('password=hunter2 at db.ts:12'));
    expect(out.status).toBe(500);
    expect(out.unexpected).toBe(true);
    expect(JSON.stringify(out.body)).not.toContain('hunter2');
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer tl_abc', 'tl_abc'],
    ['bearer  tl_abc ', 'tl_abc'],
    ['Basic abc', null],
    ['Bearer', null],
    [undefined, null],
  ])('%s', (header, token) => expect(bearerToken(header)).toBe(token));
});

describe('rate limit token bucket', () => {
  it('allows a burst, then refuses with Retry-After, then refills', () => {
    let bucket;
    let result;
    for (let i = 0; i < 3; i++) [bucket, result] = take(bucket, 0, 3);
    expect(result!.allowed).toBe(true);
    [bucket, result] = take(bucket, 0, 3);
    expect(result).toEqual({ allowed: false, retryAfterSeconds: 20, remaining: 0 });
    [bucket, result] = take(bucket, 20_000, 3);
    expect(result.allowed).toBe(true);
  });
});

describe('cursors', () => {
  it('round-trips a conversation cursor and refuses anything else', () => {
    const c = { createdAtMicros: '1735725600123456', id: 'conversation:a:web:1' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    for (const bad of ['', 'nonsense', '12:', ':id', '12345678901234567:id', '1:a\u0007'])
      expect(() => decodeCursor(bad)).toThrow(ApiError);
  });

  it('pages in the OpenAI list shape', () => {
    expect(toPage([{ id: '1' }, { id: '2' }, { id: '3' }], 2)).toEqual({
      object: 'list',
      data: [{ id: '1' }, { id: '2' }],
      first_id: '1',
      last_id: '2',
      has_more: true,
    });
    expect(toPage([], 2)).toMatchObject({ first_id: null, last_id: null, has_more: false });
  });
});

describe('events', () => {
  const user = (seq: number, turn: number): EventItem => ({
    seq,
    turn,
    itemKey: `t${turn}/in/0`,
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
    createdAt: 'now',
  });
  const reply = (seq: number, turn: number): EventItem => ({
    seq,
    turn,
    itemKey: `t${turn}/s1/o0`,
    item: {
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'yo' }],
    },
    createdAt: 'now',
  });

  it('announces a turn after its items, and a failed turn as failed', () => {
    const { events, cursor } = planEvents(
      { seq: 0, turns: 0 },
      [user(1, 1), reply(2, 1), user(3, 2), reply(4, 2)],
      2,
      false,
      new Set([2]),
    );
    expect(events.map((e) => `${e.event}@${e.id}`)).toEqual([
      'turn.started@0-0',
      'item@1-0',
      'reply@2-0',
      'turn.completed@2-1',
      'turn.started@2-1',
      'item@3-1',
      'reply@4-1',
      'turn.completed@4-2',
    ]);
    expect(events[7]!.data).toEqual({ turn: 2, status: 'failed' });
    expect(cursor).toEqual({ seq: 4, turns: 2 });
  });

  it("names the operator on an operator's reply, and only there", () => {
    const { events } = planEvents(
      { seq: 0, turns: 0 },
      [user(1, 1), reply(2, 1), { ...reply(3, 2), itemKey: 't2/operator', operator: 'bob' }],
      2,
      false,
      new Set(),
    );
    const replies = events.filter((e) => e.event === 'reply').map((e) => e.data);
    expect(replies[0]).not.toHaveProperty('operator');
    expect(replies[1]).toMatchObject({ text: 'yo', operator: 'bob' });
  });

  it('does not announce a turn whose items may be cut off by the batch limit', () => {
    const { events } = planEvents({ seq: 0, turns: 0 }, [user(1, 1)], 1, true, new Set());
    expect(events.map((e) => e.event)).toEqual(['turn.started', 'item']);
  });

  it('parses and formats ids and frames', () => {
    expect(parseEventId('12-3')).toEqual({ seq: 12, turns: 3 });
    expect(parseEventId('12')).toBeNull();
    expect(parseEventId(undefined)).toBeNull();
    expect(formatEvent({ id: '1-0', event: 'reply', data: { text: 'a\nb' } })).toBe(
      'id: 1-0\nevent: reply\ndata: {"text":"a\\nb"}\n\n',
    );
  });
});

describe('formatSnapshot', () => {
  it('writes Prometheus text with escaped labels and cumulative buckets', () => {
    const hist = { buckets: LATENCY_BUCKETS.map(() => 1), count: 1, sum: 0.2 };
    const text = formatSnapshot({
      modelCalls: [
        {
          model: 'gpt"5',
          recovery: 'history_items',
          calls: 1,
          inputTokens: 10,
          cachedInputTokens: 0,
          outputTokens: 5,
          reasoningTokens: 0,
          costUsd: 0.001,
          latency: hist,
        },
      ],
      toolCalls: [{ name: 'book', status: 'failed', calls: 2 }],
      deliveries: [{ channel: 'whatsapp', status: 'sent', deliveries: 1, attempts: 2 }],
      turnLatency: hist,
      conversations: [{ status: 'active', count: 3 }],
    });
    expect(text).toContain('threadline_model_calls_total{model="gpt\\"5",recovery="history_items"} 1');
    expect(text).toContain('threadline_expiry_recoveries_total{model="gpt\\"5",recovery="history_items"} 1');
    expect(text).toContain('threadline_tool_errors_total{tool="book"} 2');
    expect(text).toContain('threadline_turn_latency_seconds_bucket{le="+Inf"} 1');
    expect(text).toContain('threadline_delivery_attempts_total{channel="whatsapp",status="sent"} 2');
  });
});
