import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { expectApiError, startHarness } from './support/harness.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());

const tools: OpenAI.Responses.FunctionTool[] = [
  {
    type: 'function',
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
    strict: true,
  },
  { type: 'function', name: 'get_time', parameters: { type: 'object', properties: {} }, strict: false },
];

describe('function tools', () => {
  it('calls a tool, then answers with its output, and does not loop', async () => {
    const first = await client.responses.create({
      model: 'm',
      input: 'call get_weather {"city":"Oslo"}',
      tools,
    });
    expect(first.output).toHaveLength(1);
    const call = first.output[0]!;
    if (call.type !== 'function_call') throw new Error('expected a function_call');
    expect(call).toMatchObject({
      type: 'function_call',
      name: 'get_weather',
      arguments: '{"city":"Oslo"}',
      status: 'completed',
    });
    expect(call.id).toMatch(/^fc_/);
    expect(call.call_id).toMatch(/^call_/);

    const second = await client.responses.create({
      model: 'm',
      previous_response_id: first.id,
      tools,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp":21}' }],
    });
    expect(second.output_text).toBe('Tool results: get_weather -> {"temp":21}.');
  });

  it('emits parallel calls in order, or one when parallel_tool_calls is false', async () => {
    const both = await client.responses.create({
      model: 'm',
      input: 'call get_weather and call get_time',
      tools,
    });
    expect(both.output.map((o) => (o.type === 'function_call' ? o.name : o.type))).toEqual([
      'get_weather',
      'get_time',
    ]);
    expect(both.output[0]).toMatchObject({ arguments: '{"city":"<city>"}' });
    const calls = both.output.flatMap((o) => (o.type === 'function_call' ? [o] : []));
    const answer = await client.responses.create({
      model: 'm',
      previous_response_id: both.id,
      input: calls.map((c, i) => ({
        type: 'function_call_output' as const,
        call_id: c.call_id,
        output: `out${i}`,
      })),
    });
    expect(answer.output_text).toBe('Tool results: get_weather -> out0; get_time -> out1.');

    const one = await client.responses.create({
      model: 'm',
      input: 'call get_weather and call get_time',
      tools,
      parallel_tool_calls: false,
    });
    expect(one.output).toHaveLength(1);
  });

  it('tool_choice none, required and a forced function', async () => {
    const none = await client.responses.create({
      model: 'm',
      input: 'call get_time',
      tools,
      tool_choice: 'none',
    });
    expect(none.output[0]?.type).toBe('message');
    const required = await client.responses.create({
      model: 'm',
      input: 'hello',
      tools,
      tool_choice: 'required',
    });
    expect(required.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather' });
    const forced = await client.responses.create({
      model: 'm',
      input: 'hello',
      tools,
      tool_choice: { type: 'function', name: 'get_time' },
    });
    expect(forced.output[0]).toMatchObject({ type: 'function_call', name: 'get_time', arguments: '{}' });
    expect(forced.tool_choice).toEqual({ type: 'function', name: 'get_time' });
  });

  it('rejects a function call left without output', async () => {
    const first = await client.responses.create({ model: 'm', input: 'call get_time', tools });
    const call = first.output[0];
    if (call?.type !== 'function_call') throw new Error('expected a function_call');
    await expectApiError(
      client.responses.create({ model: 'm', previous_response_id: first.id, input: 'ignore that' }),
      {
        status: 400,
        type: 'invalid_request_error',
        message: `No tool output found for function call ${call.call_id}.`,
      },
    );
    await expectApiError(
      client.responses.create({
        model: 'm',
        input: [{ type: 'function_call', call_id: 'call_x', name: 'get_time', arguments: '{}' }],
      }),
      { status: 400, message: 'No tool output found for function call call_x.' },
    );
  });
});
