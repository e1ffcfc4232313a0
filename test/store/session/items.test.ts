import type { AgentInputItem } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import {
  fromStoredItem,
  fromWireItem,
  toStoredItem,
  toWireItem,
  type WireItem,
} from '../../../src/store/session/items.js';

// Items in the shapes the Agents SDK produces in a normal run with the Responses model (user input,
// model output converted by the SDK, tool results built by the runner), and shapes users write.
const cases: { name: string; item: AgentInputItem; wire: WireItem; patch?: 'none' }[] = [
  {
    name: 'user message, string content',
    item: { type: 'message', role: 'user', content: 'Hello' },
    wire: { type: 'message', role: 'user', content: 'Hello' },
    patch: 'none',
  },
  {
    name: 'user message without type (EasyInputMessage)',
    item: { role: 'user', content: 'Hi' },
    wire: { type: 'message', role: 'user', content: 'Hi' },
  },
  {
    name: 'user message, text and image parts',
    item: {
      type: 'message',
      role: 'user',
      content: [
        { type: 'input_text', text: 'What is this?' },
        { type: 'input_image', image: 'https://example.com/a.png', detail: 'low' },
        { type: 'input_file', file: { id: 'file_1' }, filename: 'a.pdf' },
      ],
    },
    wire: {
      type: 'message',
      role: 'user',
      content: [
        { type: 'input_text', text: 'What is this?' },
        { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low' },
        { type: 'input_file', file_id: 'file_1', filename: 'a.pdf' },
      ],
    },
    patch: 'none',
  },
  {
    name: 'system message',
    item: { type: 'message', role: 'system', content: 'Be brief.' },
    wire: { type: 'message', role: 'system', content: 'Be brief.' },
    patch: 'none',
  },
  {
    name: 'assistant message as the SDK converts model output',
    item: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'Hi there', providerData: { annotations: [], logprobs: [] } }],
      status: 'completed',
      providerData: {},
    },
    wire: {
      type: 'message',
      id: 'msg_1',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'Hi there', annotations: [], logprobs: [] }],
    },
    patch: 'none',
  },
  {
    name: 'assistant message written by hand, with a refusal part and a phase',
    item: {
      role: 'assistant',
      status: 'completed',
      phase: 'final_answer',
      content: [
        { type: 'output_text', text: 'Partly' },
        { type: 'refusal', refusal: 'Not that part' },
      ],
    },
    wire: {
      type: 'message',
      role: 'assistant',
      status: 'completed',
      phase: 'final_answer',
      content: [
        { type: 'output_text', text: 'Partly', annotations: [] },
        { type: 'refusal', refusal: 'Not that part' },
      ],
    },
  },
  {
    name: 'function call as the SDK converts model output',
    item: {
      type: 'function_call',
      id: 'fc_1',
      callId: 'call_1',
      name: 'get_weather',
      status: 'completed',
      arguments: '{"city":"Oslo"}',
      providerData: { type: 'function_call', id: 'fc_1' },
    },
    wire: {
      type: 'function_call',
      id: 'fc_1',
      call_id: 'call_1',
      name: 'get_weather',
      arguments: '{"city":"Oslo"}',
      status: 'completed',
    },
    patch: 'none',
  },
  {
    name: 'function result with text output, as the runner builds it',
    item: {
      type: 'function_call_result',
      name: 'get_weather',
      callId: 'call_1',
      status: 'completed',
      output: { type: 'text', text: '{"temp":21}' },
    },
    wire: { type: 'function_call_output', call_id: 'call_1', output: '{"temp":21}', status: 'completed' },
  },
  {
    name: 'function result with string output',
    item: { type: 'function_call_result', name: 'f', callId: 'call_2', status: 'completed', output: 'plain' },
    wire: { type: 'function_call_output', call_id: 'call_2', output: 'plain', status: 'completed' },
  },
  {
    name: 'function result with structured output parts',
    item: {
      type: 'function_call_result',
      name: 'shot',
      callId: 'call_3',
      status: 'completed',
      output: [
        { type: 'input_text', text: 'see image' },
        { type: 'input_image', image: 'https://example.com/s.png' },
      ],
    },
    wire: {
      type: 'function_call_output',
      call_id: 'call_3',
      status: 'completed',
      output: [
        { type: 'input_text', text: 'see image' },
        { type: 'input_image', image_url: 'https://example.com/s.png', detail: 'auto' },
      ],
    },
  },
  {
    name: 'reasoning item as the SDK converts model output',
    item: {
      type: 'reasoning',
      id: 'rs_1',
      content: [{ type: 'input_text', text: 'Thinking about it', providerData: { type: 'summary_text' } }],
      providerData: { id: 'rs_1', type: 'reasoning', encrypted_content: 'gAAA' },
    },
    wire: {
      type: 'reasoning',
      id: 'rs_1',
      summary: [{ type: 'summary_text', text: 'Thinking about it' }],
      encrypted_content: 'gAAA',
    },
    patch: 'none',
  },
  {
    name: 'reasoning item with camelCase encryptedContent and raw content',
    item: {
      type: 'reasoning',
      content: [{ type: 'input_text', text: 'sum' }],
      rawContent: [{ type: 'reasoning_text', text: 'raw' }],
      providerData: { encryptedContent: 'xyz' },
    },
    wire: {
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'sum' }],
      content: [{ type: 'reasoning_text', text: 'raw' }],
      encrypted_content: 'xyz',
    },
  },
  {
    name: 'compaction item',
    item: { type: 'compaction', id: 'cmp_1', encrypted_content: 'enc' },
    wire: { type: 'compaction', id: 'cmp_1', encrypted_content: 'enc' },
  },
  {
    name: 'hosted web search call',
    item: {
      type: 'hosted_tool_call',
      id: 'ws_1',
      name: 'web_search_call',
      status: 'completed',
      providerData: { type: 'web_search_call', id: 'ws_1', action: { type: 'search', query: 'oslo' } },
    },
    wire: {
      type: 'web_search_call',
      id: 'ws_1',
      status: 'completed',
      action: { type: 'search', query: 'oslo' },
    },
    patch: 'none',
  },
  {
    name: 'computer call and its result',
    item: {
      type: 'computer_call',
      id: 'cu_1',
      callId: 'call_c',
      status: 'completed',
      action: { type: 'click', x: 1, y: 2, button: 'left' },
    },
    wire: {
      type: 'computer_call',
      id: 'cu_1',
      call_id: 'call_c',
      status: 'completed',
      action: { type: 'click', x: 1, y: 2, button: 'left' },
    },
  },
  {
    name: 'SDK placeholder id never reaches the wire',
    item: {
      id: '__fake_id__',
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'x' }],
    },
    wire: {
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'x', annotations: [] }],
    },
  },
];

describe('item conversion (Agents SDK <-> Responses wire)', () => {
  it.each(cases)('$name: wire shape', ({ item, wire }) => {
    expect(toWireItem(item)).toStrictEqual(wire);
  });

  it.each(cases)('$name: round trip gives back the same item', ({ item }) => {
    const { wire, patch } = toStoredItem(item);
    // Stored as JSON, as the database does.
    const stored = JSON.parse(JSON.stringify({ wire, patch })) as ReturnType<typeof toStoredItem>;
    expect(fromStoredItem(stored.wire, stored.patch)).toStrictEqual(JSON.parse(JSON.stringify(item)));
  });

  it.each(cases.filter((c) => c.patch === 'none'))(
    '$name: needs no patch (the wire carries it all)',
    ({ item }) => {
      expect(toStoredItem(item).patch).toBeNull();
    },
  );

  it('a function result keeps its tool name and a text output without storing the text twice', () => {
    const { patch } = toStoredItem({
      type: 'function_call_result',
      name: 'get_weather',
      callId: 'call_1',
      status: 'completed',
      output: { type: 'text', text: 'a long tool output' },
    });
    expect(patch).toStrictEqual({ set: { name: 'get_weather' }, textOutput: true });
  });

  it('runtime-written wire items read as SDK items; a tool output takes its name from the call', () => {
    const call: WireItem = {
      type: 'function_call',
      id: 'fc_9',
      call_id: 'call_9',
      name: 'lookup',
      arguments: '{}',
    };
    const output: WireItem = { type: 'function_call_output', call_id: 'call_9', output: 'ok' };
    expect(fromWireItem(output, new Map([['call_9', 'lookup']]))).toStrictEqual({
      type: 'function_call_result',
      name: 'lookup',
      callId: 'call_9',
      status: 'completed',
      output: 'ok',
    });
    expect(fromWireItem(output)).toMatchObject({ name: 'call_9' });
    expect(fromWireItem(call)).toStrictEqual({
      type: 'function_call',
      id: 'fc_9',
      callId: 'call_9',
      name: 'lookup',
      arguments: '{}',
      providerData: { type: 'function_call', id: 'fc_9' },
    });
    expect(
      fromWireItem({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }),
    ).toStrictEqual({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] });
    expect(fromWireItem({ type: 'message', role: 'developer', content: 'rules' })).toStrictEqual({
      type: 'message',
      role: 'system',
      content: 'rules',
    });
  });

  it('an unknown wire item survives as an SDK unknown item and back', () => {
    const wire: WireItem = { type: 'future_thing', id: 'ft_1', payload: { a: 1 } };
    const item = fromWireItem(wire);
    expect(item).toStrictEqual({ type: 'unknown', id: 'ft_1', providerData: wire });
    expect(toWireItem(item)).toStrictEqual(wire);
  });
});
