import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { assertMatchesSchema } from './support/schemas.js';
import { http, startHarness } from './support/harness.js';

/** Raw wire bodies (not SDK objects, which add conveniences like output_text) against the official schemas. */
let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());

const get = async (path: string) => (await http(emulator, 'GET', path)).json;
const post = async (path: string, body: unknown) => (await http(emulator, 'POST', path, body)).json;

const tools: OpenAI.Responses.FunctionTool[] = [
  {
    type: 'function',
    strict: false,
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];

describe('schema conformance (official OpenAPI component schemas)', () => {
  it('the validator reports the schema path on a mismatch', () => {
    expect(() => assertMatchesSchema('ConversationResource', { id: 1, object: 'conversation' })).toThrow(
      /ConversationResource[\s\S]*schema #\/components\/schemas\/ConversationResource/,
    );
    const badItem = {
      type: 'message',
      id: 'msg_1',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'x' }],
    };
    expect(() =>
      assertMatchesSchema('ResponseItemList', {
        object: 'list',
        data: [badItem],
        first_id: 'msg_1',
        last_id: 'msg_1',
        has_more: false,
      }),
    ).toThrow(/ResponseItemList/);
  });

  it('Response: text, function_call, chained, with metadata and tools; ResponseItemList', async () => {
    const a = (await post('/v1/responses', {
      model: 'gpt-4.1',
      input: 'call get_weather',
      tools,
      metadata: { a: 'b' },
      instructions: 'be brief',
    })) as { id: string; output: { call_id: string }[] };
    assertMatchesSchema('Response', a);
    const b = (await post('/v1/responses', {
      model: 'gpt-4.1',
      previous_response_id: a.id,
      input: [{ type: 'function_call_output', call_id: a.output[0]!.call_id, output: '{"t":1}' }],
    })) as { id: string };
    assertMatchesSchema('Response', b);
    assertMatchesSchema('Response', await get(`/v1/responses/${b.id}`));
    const mixed = (await post('/v1/responses', {
      model: 'gpt-4.1',
      input: [
        { role: 'developer', content: 'rules' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
        { role: 'assistant', content: [{ type: 'output_text', text: 'hello' }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
      ],
      tools,
    })) as { id: string };
    assertMatchesSchema('Response', mixed);
    assertMatchesSchema('ResponseItemList', await get(`/v1/responses/${mixed.id}/input_items?order=asc`));
  });

  it('conversation, its items, item lists and deleted objects', async () => {
    const conv = (await post('/v1/conversations', {
      metadata: { x: 'y' },
      items: [{ role: 'user', content: 'hi' }],
    })) as { id: string };
    assertMatchesSchema('ConversationResource', conv);
    await client.responses.create({ model: 'm', conversation: conv.id, input: 'call get_weather', tools });
    const list = (await get(`/v1/conversations/${conv.id}/items`)) as { data: { id: string }[] };
    expect(list.data.length).toBeGreaterThan(2);
    assertMatchesSchema('ConversationItemList', list);
    for (const item of list.data)
      assertMatchesSchema('ConversationItem', await get(`/v1/conversations/${conv.id}/items/${item.id}`));
    assertMatchesSchema(
      'ConversationItemList',
      await post(`/v1/conversations/${conv.id}/items`, { items: [{ role: 'user', content: 'x' }] }),
    );
    const deletedItem = await http(
      emulator,
      'DELETE',
      `/v1/conversations/${conv.id}/items/${list.data[0]!.id}`,
    );
    assertMatchesSchema('ConversationResource', deletedItem.json);
    assertMatchesSchema(
      'DeletedConversationResource',
      (await http(emulator, 'DELETE', `/v1/conversations/${conv.id}`)).json,
    );
  });

  it('error envelopes', async () => {
    const bodies = [
      await get('/v1/responses/resp_missing'),
      await post('/v1/responses', { model: 'm', input: 'x', previous_response_id: 'resp_missing' }),
      await post('/v1/responses', { model: 'm', input: 'x', nope: true }),
      (await http(emulator, 'GET', '/v1/threads/thread_fixture_travel', undefined, {})).json,
      await get('/v1/conversations/conv_missing'),
    ];
    emulator.faults.add({ kind: 'rate_limit' });
    bodies.push(await get('/v1/threads/thread_fixture_travel'));
    for (const body of bodies) assertMatchesSchema('ErrorResponse', body);
  });

  it('thread, message, run and run step objects and lists', async () => {
    for (const threadId of ['thread_fixture_travel', 'thread_fixture_plain']) {
      assertMatchesSchema('ThreadObject', await get(`/v1/threads/${threadId}`));
      const messages = (await get(`/v1/threads/${threadId}/messages`)) as { data: { id: string }[] };
      assertMatchesSchema('ListMessagesResponse', messages);
      for (const m of messages.data)
        assertMatchesSchema('MessageObject', await get(`/v1/threads/${threadId}/messages/${m.id}`));
      const runs = (await get(`/v1/threads/${threadId}/runs`)) as { data: { id: string }[] };
      assertMatchesSchema('ListRunsResponse', runs);
      for (const r of runs.data) {
        assertMatchesSchema('RunObject', await get(`/v1/threads/${threadId}/runs/${r.id}`));
        const steps = (await get(`/v1/threads/${threadId}/runs/${r.id}/steps`)) as { data: unknown[] };
        assertMatchesSchema('ListRunStepsResponse', steps);
        for (const s of steps.data) assertMatchesSchema('RunStepObject', s);
      }
    }
  });
});
