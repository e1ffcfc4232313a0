import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tool } from '@openai/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define.js';
import { findConfigFile, loadConfigFile } from '../../src/cli/configFile.js';
import { loadConfig } from '../../src/config.js';
import { mergeChannels } from '../../src/public/channels.js';
import { defineConfig, resolveConfig } from '../../src/public/config.js';

/** threadline.config.ts: its checks (each names the field and the fix) and how the CLI loads it. */

const agent = (name: string) => defineAgent({ name, model: 'gpt-5-mini', instructions: 'Be brief.' });
const problem = (value: unknown) => {
  try {
    resolveConfig(value, 'threadline.config.ts');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
};

describe('resolveConfig', () => {
  it('resolves the default agent: the one named, else the first', () => {
    expect(resolveConfig({ agents: [agent('a'), agent('b')] }).defaultAgent).toBe('a');
    const resolved = resolveConfig({
      agents: [agent('a'), agent('b')],
      defaultAgent: 'b',
      routing: { rules: [{ tenant: 'acme', agent: 'a' }] },
    });
    expect(resolved.defaultAgent).toBe('b');
    expect([...resolved.agents.keys()]).toEqual(['a', 'b']);
    expect(resolved.routing).toMatchObject({ defaultAgent: 'b', rules: [{ tenant: 'acme', agent: 'a' }] });
    expect(resolveConfig({ agents: [agent('a')] }).routing).toBeUndefined();
    // Routing may only name the project's agents.
    expect(() =>
      resolveConfig(
        { agents: [agent('a')], routing: { rules: [{ channel: 'web', agent: 'ghost' }] } },
        'c.ts',
      ),
    ).toThrow(/c\.ts: routing .*ghost/);
  });

  it('names the field and the fix for each mistake', () => {
    const withTools = (tools: unknown[]) => ({ ...agent('a'), tools });
    const checkRooms = tool({
      name: 'check_rooms',
      description: 'Free rooms.',
      parameters: z.object({ night: z.string() }),
      execute: async () => '[]',
    });
    expect(resolveConfig({ agents: [withTools([checkRooms])] }).agents.get('a')!.tools).toHaveLength(1);

    expect(problem(undefined)).toBe(
      'threadline.config.ts: the config must be defineConfig({ agents: [...] }), the default export of the config file',
    );
    expect(problem({})).toBe(
      'threadline.config.ts: agents is required: a list of agents made with defineAgent()',
    );
    expect(problem({ agents: [] })).toBe('threadline.config.ts: agents must list at least one agent');
    expect(problem({ agents: [agent('a')], agent: 'a' })).toBe(
      'threadline.config.ts: agent is not a config field (the fields are agents, defaultAgent, routing, channels)',
    );
    expect(problem({ agents: [{ name: 'a', model: 'gpt-5-mini', instructions: 'Hi.' }] })).toBe(
      'threadline.config.ts: agents[0] was not made by defineAgent: wrap it in defineAgent({ name, model, instructions, tools }) from threadline',
    );
    expect(problem({ agents: ['a'] })).toMatch(
      /^threadline.config.ts: agents\[0\] is not an agent: make it with/,
    );
    expect(problem({ agents: [withTools([{ name: 'x', execute: () => 1 }])] })).toBe(
      'threadline.config.ts: agents[0].tools[0] is not a function tool: make it with tool({ name, description, parameters, execute }) from @openai/agents',
    );
    expect(problem({ agents: [agent('a'), agent('a')] })).toBe(
      'threadline.config.ts: agents[1].name "a" is used by two agents: give each agent its own name',
    );
    expect(problem({ agents: [agent('a'), agent('b')], defaultAgent: 'c' })).toBe(
      'threadline.config.ts: defaultAgent "c" is not one of the agents (a, b): name one of them or leave it out',
    );
  });

  it('defineConfig fails where the config is defined', () => {
    expect(() => defineConfig({ agents: [] })).toThrow('defineConfig: agents must list at least one agent');
  });
});

describe('channels in the config file', () => {
  const agents = [agent('front'), agent('sales')];
  const withChannels = (channels: unknown) => ({ agents, channels });

  it('declares WhatsApp numbers and webhook channels, each number with its tenant and agent', () => {
    const channels = {
      whatsapp: { numbers: [{ phoneNumberId: '1001', tenant: 'acme', agent: 'sales' }] },
      webhook: { channels: ['sms'], tenant: 'acme' },
    };
    expect(resolveConfig(withChannels(channels)).channels).toEqual(channels);
    expect(resolveConfig({ agents }).channels).toBeUndefined();
  });

  it('names the field and the fix; a secret is sent to the environment, never echoed', () => {
    const number = (n: Record<string, unknown>) => withChannels({ whatsapp: { numbers: [n] } });
    expect(problem(number({ phoneNumberId: '1001', tenant: 'acme', accessToken: 'EAAG-secret' }))).toBe(
      'threadline.config.ts: channels.whatsapp.numbers[0].accessToken is a secret: set WHATSAPP_ACCESS_TOKEN (or the entry in WHATSAPP_NUMBERS) in the environment, not in the config file',
    );
    expect(problem(withChannels({ whatsapp: { appSecret: 'x'.repeat(20), numbers: [] } }))).toContain(
      'channels.whatsapp.appSecret is a secret: set WHATSAPP_APP_SECRET in the environment',
    );
    expect(problem(withChannels({ webhook: { channels: ['sms'], secret: 'x'.repeat(20) } }))).toContain(
      'channels.webhook.secret is a secret: set WEBHOOK_SECRET in the environment',
    );
    expect(problem(number({ phoneNumberId: '+1 555 0100', tenant: 'acme' }))).toBe(
      'threadline.config.ts: channels.whatsapp.numbers[0].phoneNumberId must be the numeric phone number id from Meta (not the phone number)',
    );
    expect(problem(number({ phoneNumberId: '1001' }))).toBe(
      'threadline.config.ts: channels.whatsapp.numbers[0].tenant is required: the tenant that owns it, like "acme"',
    );
    expect(problem(number({ phoneNumberId: '1001', tenant: 'acme', agent: 'ghost' }))).toBe(
      'threadline.config.ts: channels.whatsapp.numbers[0].agent "ghost" is not one of the agents (front, sales): name one of them or leave it out',
    );
    expect(
      problem(
        withChannels({
          whatsapp: {
            numbers: [
              { phoneNumberId: '1001', tenant: 'acme' },
              { phoneNumberId: '1001', tenant: 'globex' },
            ],
          },
        }),
      ),
    ).toBe(
      'threadline.config.ts: channels.whatsapp.numbers[1].phoneNumberId 1001 is listed twice: one entry per number',
    );
    expect(problem(withChannels({ webhook: { channels: ['whatsapp'] } }))).toBe(
      'threadline.config.ts: channels.webhook.channels[0] must not be whatsapp: it has its own webhook',
    );
    expect(problem(withChannels({ telegram: {} }))).toBe(
      'threadline.config.ts: channels.telegram is not a field here (the fields are whatsapp, webhook)',
    );
  });
});

describe('mergeChannels: the config file with the environment', () => {
  const base = {
    DATABASE_URL: 'postgres://u:p@localhost:5432/db',
    WHATSAPP_APP_SECRET: 'app-secret-0123456789',
    WHATSAPP_VERIFY_TOKEN: 'verify-token-0123456789',
  };
  const declared = { whatsapp: true, webhook: true };
  const names = ['front', 'sales'];
  const envOf = (env: Record<string, string>) => ({
    channels: loadConfig(env, { channelsDeclared: declared }).channels,
    env,
  });

  it("serves both sides' numbers; the environment adds its tokens, the config file its routing", () => {
    const env = {
      ...base,
      WHATSAPP_ACCESS_TOKEN: 'shared-token',
      WHATSAPP_NUMBERS: JSON.stringify([
        { phoneNumberId: '1001', tenant: 'acme', accessToken: 'acme-token' },
        { phoneNumberId: '3003', tenant: 'initech' },
      ]),
    };
    const merged = mergeChannels(
      envOf(env),
      {
        whatsapp: {
          numbers: [
            { phoneNumberId: '1001', tenant: 'acme', agent: 'sales' },
            { phoneNumberId: '2002', tenant: 'globex' },
          ],
        },
      },
      names,
    );
    expect(merged.problems).toEqual([]);
    expect(merged.channels.whatsapp).toMatchObject({
      appSecret: base.WHATSAPP_APP_SECRET,
      accessToken: 'shared-token',
      numbers: [
        { phoneNumberId: '1001', tenant: 'acme', agent: 'sales', accessToken: 'acme-token' },
        { phoneNumberId: '2002', tenant: 'globex' },
        { phoneNumberId: '3003', tenant: 'initech' },
      ],
    });
  });

  it('a number both sides declare must agree on its tenant and agent: neither silently wins', () => {
    const env = {
      ...base,
      WHATSAPP_NUMBERS: JSON.stringify([{ phoneNumberId: '1001', tenant: 'globex', agent: 'front' }]),
    };
    const merged = mergeChannels(
      envOf(env),
      { whatsapp: { numbers: [{ phoneNumberId: '1001', tenant: 'acme', agent: 'sales' }] } },
      names,
    );
    expect(merged.problems).toEqual([
      'threadline.config.ts: channels.whatsapp.numbers[0] gives 1001 to the tenant "acme", the environment (WHATSAPP_NUMBERS or WHATSAPP_PHONE_NUMBER_ID with WHATSAPP_TENANT) to "globex": declare its tenant in one place',
      'threadline.config.ts: channels.whatsapp.numbers[0] gives 1001 the agent "sales", WHATSAPP_NUMBERS "front": declare its agent in one place',
    ]);
  });

  it('refuses declared channels whose secrets are missing, and environment numbers naming unknown agents', () => {
    const bare = { DATABASE_URL: base.DATABASE_URL };
    expect(
      mergeChannels(
        envOf(bare),
        {
          whatsapp: { numbers: [{ phoneNumberId: '1001', tenant: 'acme' }] },
          webhook: { channels: ['sms'] },
        },
        names,
      ).problems,
    ).toEqual([
      'threadline.config.ts: channels.whatsapp needs WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN in the environment (secrets stay out of the config file)',
      'threadline.config.ts: channels.webhook needs WEBHOOK_SECRET in the environment (it signs both directions; secrets stay out of the config file)',
    ]);
    const env = {
      ...base,
      WHATSAPP_NUMBERS: JSON.stringify([{ phoneNumberId: '1001', tenant: 'a', agent: 'concierge' }]),
    };
    expect(mergeChannels(envOf(env), undefined, names).problems).toEqual([
      'WHATSAPP_NUMBERS names the agent "concierge" for 1001, which threadline.config.ts does not define (front, sales)',
    ]);
  });

  it("the webhook's channels are both sides'; its tenant the config file's unless WEBHOOK_TENANT differs", () => {
    const hook = { DATABASE_URL: base.DATABASE_URL, WEBHOOK_SECRET: 'webhook-secret-0123456789' };
    // WEBHOOK_CHANNELS may be left to the config file (alone it is required).
    expect(() => loadConfig(hook)).toThrow(/WEBHOOK_CHANNELS must name the channels/);
    const merged = mergeChannels(envOf(hook), { webhook: { channels: ['sms'], tenant: 'acme' } }, names);
    expect(merged.problems).toEqual([]);
    expect(merged.channels.webhook).toMatchObject({ channels: ['sms'], tenant: 'acme' });
    const both = { ...hook, WEBHOOK_CHANNELS: 'telegram', WEBHOOK_TENANT: 'globex' };
    const conflict = mergeChannels(envOf(both), { webhook: { channels: ['sms'], tenant: 'acme' } }, names);
    expect(conflict.problems).toEqual([
      'threadline.config.ts: channels.webhook.tenant is "acme", WEBHOOK_TENANT "globex": set the tenant in one place',
    ]);
    expect(
      mergeChannels(envOf({ ...both, WEBHOOK_TENANT: 'acme' }), { webhook: { channels: ['sms'] } }, names)
        .channels.webhook,
    ).toMatchObject({ channels: ['telegram', 'sms'], tenant: 'acme' });
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'threadline-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const define = JSON.stringify(fileURLToPath(new URL('../../src/agents/define.ts', import.meta.url)));

  it('loads TypeScript, with relative modules that read files beside themselves', async () => {
    const project = join(dir, 'ts');
    mkdirSync(join(project, 'agents'), { recursive: true });
    writeFileSync(join(project, 'agents', 'instructions.txt'), 'You are the front desk.\n');
    writeFileSync(
      join(project, 'agents', 'front.ts'),
      `import { defineAgent, instructionsFromFile } from ${define};\n` +
        `export const front = defineAgent({ name: 'front', model: 'gpt-5-mini' as string,\n` +
        `  instructions: instructionsFromFile(new URL('./instructions.txt', import.meta.url)) });\n`,
    );
    writeFileSync(
      join(project, 'threadline.config.ts'),
      `import { front } from './agents/front.js';\n` +
        `interface Config { agents: unknown[] }\n` +
        `export default { agents: [front] } satisfies Config;\n`,
    );
    expect(findConfigFile(project)).toBe(join(project, 'threadline.config.ts'));
    const config = await loadConfigFile(join(project, 'threadline.config.ts'));
    expect(config.defaultAgent).toBe('front');
    expect(config.agents.get('front')!.instructions).toBe('You are the front desk.');
  });

  it('loads JavaScript as it is', async () => {
    const project = join(dir, 'js');
    mkdirSync(project);
    writeFileSync(
      join(project, 'threadline.config.mjs'),
      `import { defineAgent } from ${JSON.stringify(new URL('../../src/agents/define.ts', import.meta.url).href)};\n` +
        `export default { agents: [defineAgent({ name: 'js', model: 'gpt-5-mini', instructions: 'Hi.' })] };\n`,
    );
    expect((await loadConfigFile(findConfigFile(project)!)).defaultAgent).toBe('js');
  });

  it('reports a syntax error with file and line, a missing default export, a missing file', async () => {
    writeFileSync(join(dir, 'broken.config.ts'), 'const x = ;\nexport default {};\n');
    await expect(loadConfigFile(join(dir, 'broken.config.ts'))).rejects.toThrow(
      /^broken\.config\.ts does not compile: .*broken\.config\.ts:1:10: Unexpected ";"$/,
    );
    writeFileSync(join(dir, 'nodefault.config.ts'), 'export const agents = [];\n');
    await expect(loadConfigFile(join(dir, 'nodefault.config.ts'))).rejects.toThrow(
      'nodefault.config.ts has no default export: end it with export default defineConfig({ agents: [...] })',
    );
    await expect(loadConfigFile(join(dir, 'absent.config.ts'))).rejects.toThrow(
      'absent.config.ts: no such file (pass --config <file>, or create it)',
    );
    expect(findConfigFile(join(dir))).toBeUndefined();
  });
});
