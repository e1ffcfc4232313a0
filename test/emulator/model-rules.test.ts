import { describe, expect, it } from 'vitest';
import { runModel, type FunctionToolDef } from '../../src/emulator/model.js';
import type { Item } from '../../src/emulator/items.js';

const tool: FunctionToolDef = {
  type: 'function',
  name: 'get_time',
  parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
};
const user = (text: string): Item =>
  ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] }) as Item;
const call = (id: string): Item =>
  ({ type: 'function_call', call_id: id, name: 'get_time', arguments: '{}' }) as Item;
const output = (id: string): Item => ({ type: 'function_call_output', call_id: id, output: '12:00' }) as Item;
const base = { instructions: null, tools: [tool], toolChoice: 'auto' as const, parallelToolCalls: true };

describe('scripted model rules for runtime tests', () => {
  it('`keep calling` calls the tool again after its output, so a round limit can be reached', () => {
    const context = [user('please keep calling call get_time'), call('c1'), output('c1')];
    expect(runModel({ ...base, context: [...context, user('again: keep calling call get_time')] })).toEqual([
      { kind: 'function_call', name: 'get_time', arguments: '{"zone":"<zone>"}' },
    ]);
    // Outputs trailing the latest user message normally end the loop with a summary...
    expect(
      runModel({ ...base, context: [user('call get_time'), call('c1'), output('c1')] })[0],
    ).toMatchObject({
      kind: 'text',
    });
  });

  it('`raw json` writes the tool call as text, but not when tools are forbidden', () => {
    expect(runModel({ ...base, context: [user('answer in raw json')] })).toEqual([
      { kind: 'text', text: '{"name":"get_time","arguments":{"zone":"<zone>"}}' },
    ]);
    const rewritten = runModel({ ...base, toolChoice: 'none', context: [user('answer in raw json')] });
    expect(rewritten[0]).toMatchObject({ kind: 'text' });
    expect((rewritten[0] as { text: string }).text).toMatch(/^You said: "answer in raw json"/);
  });
});

describe('after a handoff (a transfer_to_* output), the model answers as the next agent', () => {
  const transfer = (id: string, to: string): Item[] => [
    { type: 'function_call', call_id: id, name: `transfer_to_${to}`, arguments: '{}' } as Item,
    { type: 'function_call_output', call_id: id, output: `{"assistant":"${to}"}` } as Item,
  ];
  const booking = { ...base, instructions: 'You are the booking desk.' };

  it("answers the user's message, not the transfer's output", () => {
    const context = [user('I want a table: call transfer_to_booking'), ...transfer('c1', 'booking')];
    expect(runModel({ ...booking, context })).toEqual([
      {
        kind: 'text',
        text: 'You said: "I want a table: call transfer_to_booking" [context: 1 user messages; first: "I want a table: call transfer_to_booking"; instructions: yes]',
      },
    ]);
  });

  it("calls the next agent's own tools the message names, then sums those up", () => {
    const context = [user('call transfer_to_booking and call get_time'), ...transfer('c1', 'booking')];
    expect(runModel({ ...booking, context })).toEqual([
      { kind: 'function_call', name: 'get_time', arguments: '{"zone":"<zone>"}' },
    ]);
    expect(runModel({ ...booking, context: [...context, call('c2'), output('c2')] })).toEqual([
      { kind: 'text', text: 'Tool results: get_time -> 12:00.' },
    ]);
  });

  it('never transfers again in the same turn (no ping-pong between agents)', () => {
    const back: FunctionToolDef = { type: 'function', name: 'transfer_to_triage' };
    const context = [
      user('call transfer_to_booking and call transfer_to_triage'),
      ...transfer('c1', 'booking'),
    ];
    const [reply] = runModel({ ...booking, tools: [tool, back], context });
    expect(reply).toMatchObject({ kind: 'text' });
    expect((reply as { text: string }).text).toMatch(/^You said: /);
  });
});

describe('fault rules', () => {
  it('times: Infinity lasts until cleared, as documented', async () => {
    const { Faults } = await import('../../src/emulator/faults.js');
    const faults = new Faults();
    expect(faults.add({ kind: 'latency', latencyMs: 1, times: Infinity }).remaining).toBe(-1);
    for (let i = 0; i < 5; i++)
      expect(faults.actionsFor({ method: 'POST', path: '/v1/responses', rawBody: '' })).toHaveLength(1);
    faults.clear();
    expect(faults.actionsFor({ method: 'POST', path: '/v1/responses', rawBody: '' })).toEqual([]);
  });
});
