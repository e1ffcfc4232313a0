import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry, getAgent, UNKNOWN_AGENT } from '../../src/agents/registry.js';
import { UNKNOWN_AGENT_APOLOGY, unknownAgentSettings } from '../../src/workflows/unknownAgent.js';

describe('an unknown agent', () => {
  it("fails the lookup non-retryably, naming the agent and none of the others (they may be other tenants')", () => {
    const registry = createRegistry([
      defineAgent({ name: 'a', model: 'm', instructions: 'x' }),
      defineAgent({ name: 'acme-secret', model: 'm', instructions: 'x' }),
    ]);
    let thrown: unknown;
    try {
      getAgent(registry, 'gone');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    expect(thrown).toMatchObject({
      type: UNKNOWN_AGENT,
      nonRetryable: true,
      message: 'Unknown agent "gone": this worker does not define it (removed or renamed by a deploy?).',
    });
    expect((thrown as Error).message).not.toMatch(/acme-secret|"a"/);
  });

  it('runs with the default apology and a short idle timeout', () => {
    const defaults = defineAgent({ name: 'a', model: 'm', instructions: 'x' });
    expect(UNKNOWN_AGENT_APOLOGY).toBe(defaults.apologyText);
    expect(unknownAgentSettings().idleTimeoutMs).toBeLessThan(defaults.idleTimeoutMs);
  });
});
