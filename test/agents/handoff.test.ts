import { RunContext } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { defineAgent } from '../../src/agents/define.js';
import { handoffTarget, transferMessage, transferToolName } from '../../src/agents/handoff.js';
import { createRegistry } from '../../src/agents/registry.js';
import type { ToolContext } from '../../src/agents/types.js';
import { IGNORED_HANDOFF, planHandoff } from '../../src/workflows/agents.js';

const agent = (
  name: string,
  extra: Parameters<typeof defineAgent>[0] extends infer D ? Partial<D> : never = {},
) => defineAgent({ name, model: 'gpt-5-mini', instructions: `I am ${name}.`, ...extra });

describe('transfer tools', () => {
  it('are named and described as the Agents SDK names them', () => {
    expect(transferToolName('booking')).toBe('transfer_to_booking');
    expect(transferToolName('booking-desk.v2')).toBe('transfer_to_booking_desk_v2');
    expect(transferMessage('booking')).toBe('{"assistant":"booking"}');
  });

  it('createRegistry adds one per target, without parameters, whose output records the handoff', async () => {
    const registry = createRegistry([
      agent('triage', { handoffs: ['booking'] }),
      agent('booking', { handoffDescription: 'Books tables.' }),
    ]);
    const triage = registry.get('triage')!;
    const transfer = triage.tools.find((t) => t.name === 'transfer_to_booking')!;
    expect(transfer).toMatchObject({
      description: 'Handoff to the booking agent to handle the request. Books tables.',
      strict: true,
      parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
    });
    expect(await transfer.invoke(new RunContext({} as ToolContext), '{}')).toBe('{"assistant":"booking"}');
    expect(handoffTarget(triage, 'transfer_to_booking')).toBe('booking');
    expect(handoffTarget(triage, 'get_weather')).toBeUndefined();
    expect(registry.get('booking')!.tools).toEqual([]);
  });
});

describe('handoffs are checked', () => {
  it('by defineAgent: itself, twice, a malformed name', () => {
    expect(() => agent('a', { handoffs: ['a'] })).toThrow('handoffs must not name the agent itself');
    expect(() => agent('a', { handoffs: ['b', 'b'] })).toThrow('handoffs names "b" twice');
    expect(() => agent('a', { handoffs: ['b c'] })).toThrow(
      'handoffs names "b c", which is not an agent name',
    );
  });

  it('at start-up: an undefined target, another strategy, a duplicate agent', () => {
    expect(() => createRegistry([agent('triage', { handoffs: ['bookng'] })])).toThrow(
      'Agent "triage" hands off to "bookng", which is not defined',
    );
    expect(() =>
      createRegistry([agent('triage', { handoffs: ['conv'] }), agent('conv', { strategy: 'conversation' })]),
    ).toThrow('runs openai-conversations/conversation, not openai-responses/previous_response_id');
    expect(() => createRegistry([agent('x'), agent('x')])).toThrow('the agent "x" is defined twice');
  });
});

describe('planHandoff', () => {
  const call = (callId: string, name: string, handoff?: string) => ({
    callId,
    name,
    arguments: '{}',
    ...(handoff ? { handoff } : {}),
  });

  it('follows the first transfer and ignores the later ones; other calls run', () => {
    const plan = planHandoff([
      call('1', 'get_weather'),
      call('2', 'transfer_to_billing', 'billing'),
      call('3', 'transfer_to_booking', 'booking'),
    ]);
    expect(plan).toEqual({ to: 'billing', ignored: new Set(['3']) });
    expect(IGNORED_HANDOFF).toBe('Multiple handoffs detected, ignoring this one.');
  });

  it('no transfer, no handoff', () => {
    expect(planHandoff([call('1', 'get_weather')])).toEqual({ to: null, ignored: new Set() });
  });
});
