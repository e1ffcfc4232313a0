import { describe, expect, it } from 'vitest';
import {
  agentsFor,
  resolveAgent,
  routingProblems,
  routingSchema,
  toRouting,
  type Routing,
} from '../../src/agents/routing.js';
import { loadConfig } from '../../src/config.js';

const routing: Routing = {
  defaultAgent: 'assistant',
  rules: [
    { tenant: 'acme', agent: 'acme-bot' },
    { tenant: 'acme', channel: 'whatsapp', agent: 'acme-wa' },
    { channel: 'whatsapp', whatsappNumber: '1555', agent: 'acme-sales' },
    { tenant: 'globex', agent: 'globex-bot' },
    { channel: 'sms', agent: 'sms-bot' },
  ],
  allow: { acme: ['concierge'] },
};

describe('resolveAgent', () => {
  it.each([
    [{ tenant: 'acme', channel: 'web' }, 'acme-bot', 'rule'],
    [{ tenant: 'acme', channel: 'whatsapp' }, 'acme-wa', 'rule'],
    [{ tenant: 'acme', channel: 'whatsapp', whatsappNumber: '1555' }, 'acme-sales', 'rule'],
    [{ tenant: 'globex', channel: 'web' }, 'globex-bot', 'rule'],
    [{ tenant: 'initech', channel: 'sms' }, 'sms-bot', 'rule'],
    [{ tenant: 'initech', channel: 'web' }, 'assistant', 'default'],
  ])('%o -> %s (%s)', (request, agent, source) => {
    expect(resolveAgent(request, routing)).toEqual({ ok: true, agent, source });
  });

  it('the most specific rule wins; among equals, the first', () => {
    const r: Routing = {
      defaultAgent: 'd',
      rules: [
        { channel: 'web', agent: 'first' },
        { channel: 'web', agent: 'second' },
        { tenant: 't', agent: 'tenant-only' },
      ],
    };
    expect(resolveAgent({ tenant: 't', channel: 'web' }, r)).toMatchObject({ agent: 'first' });
    expect(resolveAgent({ tenant: 't', channel: 'sms' }, r)).toMatchObject({ agent: 'tenant-only' });
  });

  it('takes a requested agent the tenant may use: routed, allowed, or the default', () => {
    for (const requested of ['acme-bot', 'acme-wa', 'concierge', 'assistant', 'sms-bot', 'acme-sales'])
      expect(resolveAgent({ tenant: 'acme', channel: 'web', requested }, routing)).toEqual({
        ok: true,
        agent: requested,
        source: 'requested',
      });
  });

  it("refuses another tenant's agent and an unknown one alike, listing only the tenant's own", () => {
    const theirs = resolveAgent({ tenant: 'globex', channel: 'web', requested: 'acme-bot' }, routing);
    const unknown = resolveAgent({ tenant: 'globex', channel: 'web', requested: 'nope' }, routing);
    expect(theirs).toEqual(unknown);
    expect(theirs).toEqual({ ok: false, allowed: ['acme-sales', 'assistant', 'globex-bot', 'sms-bot'] });
    expect(JSON.stringify(theirs)).not.toMatch(/acme-bot|acme-wa|concierge/);
  });

  it('a number-only rule is shared (it names no tenant), so every tenant may ask for its agent', () => {
    expect(agentsFor('globex', routing)).toContain('acme-sales');
  });

  it('without rules everyone gets the default, and may ask for nothing else', () => {
    const plain: Routing = { defaultAgent: 'concierge' };
    expect(resolveAgent({ tenant: 'x', channel: 'web' }, plain)).toMatchObject({ agent: 'concierge' });
    expect(resolveAgent({ tenant: 'x', channel: 'web', requested: 'assistant' }, plain)).toEqual({
      ok: false,
      allowed: ['concierge'],
    });
  });
});

describe('routing checks', () => {
  it('names every agent the registry does not define, and where', () => {
    expect(
      routingProblems(routing, ['assistant', 'acme-bot', 'acme-wa', 'globex-bot', 'sms-bot', 'acme-sales']),
    ).toEqual(['routing allow.acme[0] names the agent "concierge", which is not defined']);
    expect(routingProblems({ defaultAgent: 'x', rules: [{ agent: 'y' }] }, [])).toEqual([
      'routing defaultAgent names the agent "x", which is not defined',
      'routing rules[0].agent names the agent "y", which is not defined',
    ]);
  });

  it('parses the JSON shape strictly', () => {
    expect(toRouting(routingSchema.parse({ rules: [{ tenant: 'a', agent: 'b' }] }), 'concierge')).toEqual({
      defaultAgent: 'concierge',
      rules: [{ tenant: 'a', agent: 'b' }],
      allow: {},
    });
    expect(routingSchema.safeParse({ rules: [{ tenant: 'a', agnet: 'b' }] }).success).toBe(false);
  });
});

describe('AGENT_ROUTING', () => {
  const base = { DATABASE_URL: 'postgres://u:p@localhost:5432/db' };

  it('unset: every conversation gets the default agent, as before', () => {
    expect(loadConfig(base).routing).toEqual({ defaultAgent: 'concierge' });
  });

  it('set: rules and allow lists, the default agent kept unless given', () => {
    const config = loadConfig({
      ...base,
      AGENT_ROUTING: JSON.stringify({
        rules: [{ tenant: 'acme', agent: 'assistant' }],
        allow: { b: ['assistant'] },
      }),
    });
    expect(config.routing).toEqual({
      defaultAgent: 'concierge',
      rules: [{ tenant: 'acme', agent: 'assistant' }],
      allow: { b: ['assistant'] },
    });
  });

  it.each([
    ['{not json', /AGENT_ROUTING is not JSON/],
    [JSON.stringify({ rules: [{ tenant: 'a' }] }), /AGENT_ROUTING\.rules\.0\.agent/],
    [
      JSON.stringify({ rules: [{ agent: 'has space' }] }),
      /AGENT_ROUTING\.rules\.0\.agent must be an agent name/,
    ],
    [JSON.stringify({ default: 'x' }), /AGENT_ROUTING\.\(root\)|AGENT_ROUTING\..*default/],
  ])('refuses %s, naming the field', (value, problem) => {
    expect(() => loadConfig({ ...base, AGENT_ROUTING: value })).toThrow(problem);
  });
});
