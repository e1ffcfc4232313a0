import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tool } from '@openai/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define.js';
import { findConfigFile, loadConfigFile } from '../../src/cli/configFile.js';
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
      'threadline.config.ts: agent is not a config field (the fields are agents, defaultAgent, routing)',
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
