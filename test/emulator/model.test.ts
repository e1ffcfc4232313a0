import { describe, expect, it } from 'vitest';
import { assistantMessage, userMessage, type Item } from '../../src/emulator/items.js';
import {
  echoText,
  findToolMentions,
  leadingJsonObject,
  placeholderArguments,
  runModel,
  type FunctionToolDef,
  type ModelInput,
} from '../../src/emulator/model.js';
import { computeUsage, textTokens } from '../../src/emulator/tokens.js';

const weather: FunctionToolDef = {
  type: 'function',
  name: 'get_weather',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string' },
      days: { type: 'integer' },
      unit: { type: 'string', enum: ['c', 'f'] },
    },
    required: ['city', 'days', 'unit'],
  },
};
const time: FunctionToolDef = {
  type: 'function',
  name: 'get_time',
  parameters: { type: 'object', properties: {} },
};

const input = (context: Item[], over: Partial<ModelInput> = {}): ModelInput => ({
  context,
  instructions: null,
  tools: [weather, time],
  toolChoice: 'auto',
  parallelToolCalls: true,
  ...over,
});

describe('scripted model', () => {
  it('echoes the latest user text with a memory line', () => {
    const context = [userMessage('first message'), assistantMessage('ok'), userMessage('second')];
    expect(runModel(input(context))).toEqual([
      {
        kind: 'text',
        text: 'You said: "second" [context: 2 user messages; first: "first message"; instructions: no]',
      },
    ]);
  });

  it('truncates the first user message to 60 characters and reports instructions', () => {
    const long = 'x'.repeat(100);
    expect(echoText({ context: [userMessage(long)], instructions: 'be brief' })).toBe(
      `You said: "${long}" [context: 1 user messages; first: "${'x'.repeat(60)}"; instructions: yes]`,
    );
  });

  it('calls every named tool in order, with JSON arguments when given', () => {
    const out = runModel(
      input([userMessage('please call get_time and call get_weather {"city":"Oslo","days":2}')]),
    );
    expect(out).toEqual([
      { kind: 'function_call', name: 'get_time', arguments: '{}' },
      { kind: 'function_call', name: 'get_weather', arguments: '{"city":"Oslo","days":2}' },
    ]);
  });

  it('builds placeholder arguments from the required properties', () => {
    expect(placeholderArguments(weather.parameters!)).toEqual({ city: '<city>', days: 1, unit: 'c' });
  });

  it('honours parallel_tool_calls=false, tool_choice none/required/forced', () => {
    const ctx = [userMessage('call get_weather and call get_time')];
    expect(runModel(input(ctx, { parallelToolCalls: false }))).toHaveLength(1);
    expect(runModel(input(ctx, { toolChoice: 'none' }))[0]?.kind).toBe('text');
    expect(runModel(input([userMessage('hi')], { toolChoice: 'required' }))[0]).toMatchObject({
      kind: 'function_call',
      name: 'get_weather',
    });
    expect(runModel(input(ctx, { toolChoice: { type: 'function', name: 'get_time' } }))).toEqual([
      { kind: 'function_call', name: 'get_time', arguments: '{}' },
    ]);
  });

  it('ignores names that are not offered tools', () => {
    expect(findToolMentions('call mom then call get_time', ['get_time']).map((m) => m.name)).toEqual([
      'get_time',
    ]);
    expect(leadingJsonObject(' with {"a":"}"} tail')).toEqual({ a: '}' });
    expect(leadingJsonObject(' {not json}')).toBeUndefined();
  });

  it('answers with tool results after outputs and never calls again in that turn', () => {
    const ctx: Item[] = [
      userMessage('call get_weather'),
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_1',
        name: 'get_weather',
        arguments: '{}',
        status: 'completed',
      },
      {
        type: 'function_call_output',
        id: 'fco_1',
        call_id: 'call_1',
        output: '{"temp":21}',
        status: 'completed',
      },
    ];
    expect(runModel(input(ctx))).toEqual([
      { kind: 'text', text: 'Tool results: get_weather -> {"temp":21}.' },
    ]);
    const after = [...ctx, assistantMessage('Tool results: ...')];
    expect(runModel(input(after))[0]?.kind).toBe('text');
  });

  it('estimates usage: ceil(chars/4) + 4 per item, cached = prior items', () => {
    expect(textTokens('abcde')).toBe(2);
    const usage = computeUsage({
      priorItems: [userMessage('abcd')],
      newItems: [userMessage('abcdefgh')],
      instructions: 'abcd',
      output: [assistantMessage('ab')],
    });
    expect(usage).toEqual({
      input_tokens: 5 + 6 + 5,
      input_tokens_details: { cached_tokens: 5, cache_write_tokens: 0 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 21,
    });
  });
});
