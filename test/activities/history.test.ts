import { describe, expect, it } from 'vitest';
import {
  estimateTokens,
  historyAsText,
  looksLikeRawToolCall,
  outputText,
  sanitizeForInput,
  splitAtStep,
  trimToBudget,
} from '../../src/activities/history.js';
import { validatorFor } from '../emulator/support/schemas.js';

/**
 * The spec's InputItem is a oneOf whose branches overlap (a user message is both an
 * EasyInputMessage and an InputMessage), so an item is valid when one branch accepts it.
 */
function inputItemSchemaErrors(item: unknown): string[] {
  const branches = ['EasyInputMessage', 'Item'];
  if (branches.some((b) => validatorFor(b)(item))) return [];
  return [`${JSON.stringify(item)} matches none of ${branches.join(', ')}`];
}

const user = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });
const assistant = (text: string) => ({
  type: 'message',
  id: 'msg_1',
  status: 'completed',
  role: 'assistant',
  content: [{ type: 'output_text', text, annotations: [] }],
});
const call = (id: string) => ({
  type: 'function_call',
  id: `fc_${id}`,
  call_id: id,
  name: 'get_weather',
  arguments: '{"city":"Rome"}',
  status: 'completed',
});
const output = (id: string) => ({ type: 'function_call_output', call_id: id, output: '{"temp":21}' });

describe('sanitizeForInput', () => {
  it('drops server ids and reasoning items, keeps messages and paired calls', () => {
    const items = [
      user('hi'),
      { type: 'reasoning', id: 'rs_1', summary: [] },
      call('c1'),
      output('c1'),
      assistant('sunny'),
    ];
    expect(sanitizeForInput(items)).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
      { type: 'function_call', call_id: 'c1', name: 'get_weather', arguments: '{"city":"Rome"}' },
      { type: 'function_call_output', call_id: 'c1', output: '{"temp":21}' },
      { type: 'message', role: 'assistant', content: 'sunny' },
    ]);
  });

  it('sends every item in a shape one of the spec input item schemas accepts', () => {
    const items = [
      user('hi'),
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'be brief' }] },
      call('c1'),
      output('c1'),
      assistant('sunny'),
    ];
    for (const item of sanitizeForInput(items)) expect(inputItemSchemaErrors(item)).toEqual([]);
  });

  it('keeps reasoning items with encrypted content only before the item they led to, when asked', () => {
    const reasoning = (id: string) => ({
      type: 'reasoning',
      id,
      summary: [],
      encrypted_content: `enc_${id}`,
      status: 'completed',
    });
    const items = [
      user('hi'),
      reasoning('rs_1'),
      call('c1'),
      output('c1'),
      reasoning('rs_2'),
      assistant('sunny'),
      reasoning('rs_3'), // its call was never answered: both go
      call('c2'),
      { type: 'reasoning', id: 'rs_4', summary: [] }, // no encrypted content: not valid as input
      assistant('done'),
    ];
    const sent = sanitizeForInput(items, { reasoning: true });
    expect(sent.map((i) => (i.type === 'reasoning' ? i.id : i.type))).toEqual([
      'message',
      'rs_1',
      'function_call',
      'function_call_output',
      'rs_2',
      'message',
      'message',
    ]);
    expect(sent[1]).toEqual({ type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'enc_rs_1' });
    for (const item of sent) expect(inputItemSchemaErrors(item)).toEqual([]);
    expect(sanitizeForInput(items).some((i) => i.type === 'reasoning')).toBe(false);
  });

  it('drops a call without its output and an output without its call (the API rejects both)', () => {
    expect(sanitizeForInput([call('c1'), output('c2'), user('next')])).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'next' }] },
    ]);
  });
});

describe('estimateTokens', () => {
  it('counts a reasoning item as overhead only: the API drops earlier reasoning from the context', () => {
    const reasoning = {
      type: 'reasoning',
      id: 'rs_1',
      summary: [],
      encrypted_content: 'x'.repeat(4_000),
    } as Parameters<typeof estimateTokens>[0];
    expect(estimateTokens(reasoning)).toBe(4);
  });
});

describe('trimToBudget', () => {
  const items = Array.from({ length: 10 }, (_, i) => user(`message number ${i} `.repeat(10)));
  const each = estimateTokens(items[0]!);

  it('keeps the newest items that fit, oldest first', () => {
    const kept = trimToBudget(items, each * 3);
    expect(kept).toEqual(items.slice(7));
  });

  it('always keeps the tail (the step being sent), even over budget', () => {
    expect(trimToBudget(items, 1, 2)).toEqual(items.slice(8));
  });

  it('never opens the window on a tool output whose call was cut off', () => {
    const seq = [user('a'), call('c1'), output('c1'), assistant('b'), user('c')];
    const budget = estimateTokens(seq[2]!) + estimateTokens(seq[3]!) + estimateTokens(seq[4]!);
    expect(trimToBudget(seq, budget).map((i) => i.type)).toEqual(['message', 'message']);
  });
});

describe('a step after a tool round (its input is the tool outputs)', () => {
  const seq = [user('weather?'), call('c1'), call('c2'), output('c2'), output('c1')];

  it('splitAtStep keeps the calls with their outputs in the step, nothing unanswered before it', () => {
    const { earlier, current } = splitAtStep(seq, 2);
    expect(earlier.map((i) => i.type)).toEqual(['message']);
    expect(current.map((i) => i.type)).toEqual([
      'function_call',
      'function_call',
      'function_call_output',
      'function_call_output',
    ]);
  });

  it('trimToBudget keeps the calls the tail answers, even over budget', () => {
    expect(trimToBudget(seq, 1, 2)).toEqual(seq.slice(1));
  });
});

describe('outputText and historyAsText', () => {
  it('reads the final text the way the SDKs do', () => {
    expect(outputText([call('c1'), assistant('Hello'), assistant(' world')])).toBe('Hello world');
  });
  it('renders history for the instructions-mode recovery', () => {
    expect(historyAsText([user('hi'), call('c1'), output('c1'), assistant('sunny')])).toBe(
      'User: hi\nTool call get_weather({"city":"Rome"})\nTool result: {"temp":21}\nAssistant: sunny',
    );
  });
});

describe('looksLikeRawToolCall (the output guard)', () => {
  const tools = ['book_table', 'check_availability'];
  it.each([
    '{"name":"book_table","arguments":{"date":"2026-11-22"}}',
    '```json\n{"tool":"check_availability","parameters":{}}\n```',
    '[{"type":"function_call","name":"book_table","arguments":"{}"}]',
    '{"function":{"name":"book_table"},"arguments":"{}"}',
  ])('flags %s', (text) => {
    expect(looksLikeRawToolCall(text, tools)).toBe(true);
  });
  it.each([
    'Your table is booked for 19:00.',
    '{"confirmed": true}',
    'Use {name} as a placeholder',
    '{not json',
  ])('lets %s through', (text) => {
    expect(looksLikeRawToolCall(text, tools)).toBe(false);
  });
});
