import { describe, expect, it } from 'vitest';
import { tool } from '@openai/agents';
import { z } from 'zod';
import { agentSettings, defineAgent } from '../../src/agents/define.js';
import { DEFAULT_TOOL_POLICY, isLastAttempt, resolveToolPolicy } from '../../src/agents/toolPolicy.js';

const lookup = tool({
  name: 'lookup',
  description: 'Looks up.',
  parameters: z.object({ q: z.string() }),
  strict: true,
  execute: async ({ q }) => q,
});

describe('tool policy', () => {
  it('bounds a tool by attempts and by time by default', () => {
    expect(resolveToolPolicy(undefined)).toEqual(DEFAULT_TOOL_POLICY);
    expect(DEFAULT_TOOL_POLICY).toEqual({ timeoutMs: 30_000, maxAttempts: 3, maxDurationMs: 300_000 });
  });

  it('a time bound alone retries without an attempt limit (0) until the time is up', () => {
    expect(resolveToolPolicy({ timeoutMs: 8_000, maxDurationMs: 60_000 })).toEqual({
      timeoutMs: 8_000,
      maxAttempts: 0,
      maxDurationMs: 60_000,
    });
    expect(resolveToolPolicy({ maxDurationMs: 60_000, maxAttempts: 10 })).toEqual({
      timeoutMs: 30_000,
      maxAttempts: 10,
      maxDurationMs: 60_000,
    });
    expect(resolveToolPolicy({ timeoutMs: 5_000, maxAttempts: 2 })).toEqual({
      timeoutMs: 5_000,
      maxAttempts: 2,
      maxDurationMs: 300_000,
    });
  });

  it('rejects a bad policy with the field and the fix', () => {
    const bad = (toolPolicies: Record<string, object>) => () =>
      defineAgent({ name: 'a', model: 'gpt-5-mini', instructions: 'x', tools: [lookup], toolPolicies });
    expect(bad({ lookup: { maxDurationMs: 5_000, timeoutMs: 10_000 } })).toThrow(
      'toolPolicies.lookup.maxDurationMs (5000) must be at least its timeoutMs (10000)',
    );
    expect(bad({ lookup: { maxAttempts: 0 } })).toThrow(
      'toolPolicies.lookup.maxAttempts must be a whole number of at least 1 (leave it out to retry until maxDurationMs)',
    );
    expect(bad({ lookup: { timeoutMs: 10 } })).toThrow(
      'toolPolicies.lookup.timeoutMs must be a whole number of milliseconds, at least 100',
    );
  });

  it('agent settings carry every tool’s resolved policy', () => {
    const agent = defineAgent({
      name: 'a',
      model: 'gpt-5-mini',
      instructions: 'x',
      tools: [lookup],
      toolPolicies: { lookup: { maxDurationMs: 45_000 } },
    });
    expect(agentSettings(agent).toolPolicies).toEqual({
      lookup: { timeoutMs: 30_000, maxAttempts: 0, maxDurationMs: 45_000 },
    });
  });

  it('an attempt is the last when the attempts are used up or the next would start past the time bound', () => {
    expect(isLastAttempt(3, 3, 0, undefined)).toBe(true);
    expect(isLastAttempt(2, 3, 0, undefined)).toBe(false);
    expect(isLastAttempt(50, 0, 0, undefined)).toBe(false); // no limit at all: Temporal's own bound
    // Backoff 1 s, 2 s, 4 s ... 30 s: attempt 2 fails at 1 s, the next would start at 3 s.
    expect(isLastAttempt(1, 0, 0, 2_500)).toBe(false);
    expect(isLastAttempt(2, 0, 1_000, 2_500)).toBe(true);
    expect(isLastAttempt(10, 0, 0, 40_000)).toBe(false); // the wait is capped at 30 s
    expect(isLastAttempt(10, 0, 10_000, 40_000)).toBe(true);
  });
});
