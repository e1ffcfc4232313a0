import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { argumentPieces, textPieces } from '../../src/emulator/streaming.js';
import { assertMatchesSchema } from './support/schemas.js';
import { http, startHarness } from './support/harness.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());
beforeEach(() => emulator.faults.clear());

/** The schema of each event type, as ResponseStreamEvent's members name them. */
const SCHEMA_OF: Record<string, string> = {
  'response.created': 'ResponseCreatedEvent',
  'response.in_progress': 'ResponseInProgressEvent',
  'response.output_item.added': 'ResponseOutputItemAddedEvent',
  'response.output_item.done': 'ResponseOutputItemDoneEvent',
  'response.content_part.added': 'ResponseContentPartAddedEvent',
  'response.content_part.done': 'ResponseContentPartDoneEvent',
  'response.output_text.delta': 'ResponseTextDeltaEvent',
  'response.output_text.done': 'ResponseTextDoneEvent',
  'response.function_call_arguments.delta': 'ResponseFunctionCallArgumentsDeltaEvent',
  'response.function_call_arguments.done': 'ResponseFunctionCallArgumentsDoneEvent',
  'response.completed': 'ResponseCompletedEvent',
  'response.incomplete': 'ResponseIncompleteEvent',
  'response.failed': 'ResponseFailedEvent',
  error: 'ResponseErrorEvent',
};

interface WireEvent {
  event: string;
  data: { type: string; sequence_number: number; [k: string]: unknown };
  at: number;
}

/** Raw SSE from the emulator: each frame's event name, its JSON and when it arrived; `cut` if the body broke. */
async function stream(
  body: Record<string, unknown>,
): Promise<{ status: number; events: WireEvent[]; cut: boolean }> {
  const res = await fetch(`${emulator.origin}/v1/responses`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const events: WireEvent[] = [];
  if (!res.headers.get('content-type')?.includes('text/event-stream'))
    return { status: res.status, events, cut: false };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let cut = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1] ?? '';
        const data = JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? 'null') as WireEvent['data'];
        events.push({ event, data, at: Date.now() });
      }
    }
  } catch {
    cut = true;
  }
  return { status: res.status, events, cut };
}

function assertWellFormed(events: WireEvent[]): void {
  events.forEach((e, i) => {
    expect(e.event).toBe(e.data.type);
    expect(e.data.sequence_number).toBe(i);
    const schema = SCHEMA_OF[e.data.type];
    if (!schema) throw new Error(`unexpected event ${e.data.type}`);
    assertMatchesSchema(schema, e.data);
  });
}

const tools = [
  {
    type: 'function',
    name: 'get_weather',
    strict: false,
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];

describe('streamed responses (stream: true)', () => {
  it('text: the documented event sequence, schema-valid, deltas that add up to the stored response', async () => {
    const { status, events, cut } = await stream({
      model: 'gpt-4.1',
      input: 'Tell me about streaming please',
    });
    expect(status).toBe(200);
    expect(cut).toBe(false);
    assertWellFormed(events);
    expect(events.map((e) => e.event).filter((t) => t !== 'response.output_text.delta')).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const completed = events.at(-1)!.data.response as OpenAI.Responses.Response;
    const deltas = events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta);
    expect(deltas.length).toBeGreaterThan(3);
    const message = completed.output[0] as OpenAI.Responses.ResponseOutputMessage;
    const text = (message.content[0] as OpenAI.Responses.ResponseOutputText).text;
    expect(deltas.join('')).toBe(text);
    expect(events[0]!.data.response).toMatchObject({ id: completed.id, status: 'in_progress', output: [] });
    // Stored like any other response.
    expect((await http(emulator, 'GET', `/v1/responses/${completed.id}`)).json).toEqual(completed);
  });

  it('reasoning and a function call: items whole or argument deltas, in output order', async () => {
    const { events } = await stream({ model: 'gpt-5-mini', input: 'call get_weather', tools });
    assertWellFormed(events);
    const completed = events.at(-1)!.data.response as OpenAI.Responses.Response;
    expect(completed.output.map((i) => i.type)).toEqual(['reasoning', 'function_call']);
    const call = completed.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
    const args = events.filter((e) => e.event === 'response.function_call_arguments.delta');
    expect(args.map((e) => e.data.delta).join('')).toBe(call.arguments);
    expect(args.every((e) => e.data.output_index === 1 && e.data.item_id === call.id)).toBe(true);
    const added = events.filter((e) => e.event === 'response.output_item.added').map((e) => e.data.item);
    expect(added).toMatchObject([
      { type: 'reasoning' },
      { type: 'function_call', arguments: '', status: 'in_progress' },
    ]);
  });

  it('an answer cut by max_output_tokens ends with response.incomplete', async () => {
    const { events } = await stream({ model: 'gpt-5-mini', input: 'hi', max_output_tokens: 16 });
    assertWellFormed(events);
    expect(events.at(-1)!.data).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
  });

  it('the SDK streaming helpers read it: responses.stream() and create({ stream: true })', async () => {
    const helper = client.responses.stream({ model: 'gpt-4.1', input: 'say something' });
    let streamed = '';
    helper.on('response.output_text.delta', (e) => (streamed += e.delta));
    const final = await helper.finalResponse();
    expect(streamed).toBe(final.output_text);
    const raw = await client.responses.create({ model: 'gpt-4.1', input: 'again', stream: true });
    const types: string[] = [];
    for await (const event of raw) types.push(event.type);
    expect(types.at(-1)).toBe('response.completed');
  });

  it('bad input still gets a plain JSON error before any stream starts', async () => {
    const res = await stream({ model: 'gpt-4.1', input: 'x', bogus: 1 });
    expect(res.status).toBe(400);
    expect(res.events).toEqual([]);
  });
});

describe('faults mid-stream', () => {
  it('cut_stream closes the connection halfway, with no terminal event; the SDK call fails', async () => {
    emulator.faults.add({ kind: 'cut_stream' });
    const { events, cut } = await stream({
      model: 'gpt-4.1',
      input: 'a longer answer to cut in half please',
    });
    expect(cut).toBe(true);
    expect(events.length).toBeGreaterThan(2);
    assertWellFormed(events);
    expect(events.some((e) => e.event === 'response.completed')).toBe(false);
    expect(events.some((e) => e.event === 'response.output_text.delta')).toBe(true);

    emulator.faults.add({ kind: 'cut_stream', afterEvents: 4 });
    const helper = client.responses.stream({ model: 'gpt-4.1', input: 'x' });
    await expect(helper.finalResponse()).rejects.toThrow();
  });

  it('slow_stream spaces the events; latency before the stream still applies to the whole request', async () => {
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 40 });
    const { events } = await stream({ model: 'gpt-4.1', input: 'slowly now' });
    assertWellFormed(events);
    const spread = events.at(-1)!.at - events[0]!.at;
    expect(spread).toBeGreaterThanOrEqual(40 * (events.length - 2));
  });

  it('stream_error ends the stream with a schema-valid error event; the SDK raises it', async () => {
    emulator.faults.add({ kind: 'stream_error', afterEvents: 3 });
    const { events, cut } = await stream({ model: 'gpt-4.1', input: 'fail midway' });
    expect(cut).toBe(false);
    assertWellFormed(events);
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'error',
    ]);
    emulator.faults.add({ kind: 'stream_error', afterEvents: 3 });
    await expect(client.responses.stream({ model: 'gpt-4.1', input: 'x' }).finalResponse()).rejects.toThrow(
      /server had an error/,
    );
  });

  it('stream faults wait for a streamed request: a plain call does not spend them', async () => {
    emulator.faults.add({ kind: 'cut_stream', afterEvents: 2 });
    const plain = await client.responses.create({ model: 'gpt-4.1', input: 'x' });
    expect(plain.status).toBe('completed');
    expect(emulator.faults.list()).toMatchObject([{ kind: 'cut_stream', hits: 0 }]);
    const { cut } = await stream({ model: 'gpt-4.1', input: 'x' });
    expect(cut).toBe(true);
    expect(emulator.faults.list()).toEqual([]);
  });

  it('lose_answer on a stream: the response is stored, the client gets a connection error', async () => {
    emulator.faults.add({ kind: 'lose_answer' });
    const err = await client.responses
      .stream({ model: 'gpt-4.1', input: 'lost' })
      .finalResponse()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    const lost = emulator.requests().findLast((r) => r.path === '/v1/responses')!;
    expect(lost).toMatchObject({ status: 0, answerLost: true });
    expect((await client.responses.retrieve(lost.responseId!)).status).toBe('completed');
  });
});

describe('pieces', () => {
  it('text pieces keep every character; argument pieces too', () => {
    for (const text of ['', 'one', ' lead and trail ', 'a\n\nb  c'])
      expect(textPieces(text).join('')).toBe(text);
    expect(textPieces('You said: "hi"')).toEqual(['You', ' said:', ' "hi"']);
    expect(argumentPieces('{"city":"Paris"}').join('')).toBe('{"city":"Paris"}');
  });
});
