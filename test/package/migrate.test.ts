import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrationAgent } from '../../src/cli/migrate.js';
import type { MigrationInput } from '../../src/workflows/migration.js';
import { testClient, uniqueTaskQueue } from '../support/env.js';

/**
 * `threadline migrate` in a project: migrated conversations get the project's default agent (the
 * one a new user's first message reaches), not a name the project may not define.
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));
const project = mkdtempSync(join(tmpdir(), 'threadline-migrate-'));
const taskQueue = uniqueTaskQueue('pkg-migrate'); // no worker: the test reads what was started
let temporal: { client: Client; close(): Promise<void> };

beforeAll(async () => {
  temporal = await testClient();
  // The config's imports (zod, @openai/agents) resolve as in a project: from its node_modules.
  symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'));
  writeFileSync(
    join(project, 'threadline.config.ts'),
    `import { defineAgent, defineConfig } from ${JSON.stringify(join(repo, 'src/public/index.ts'))};
const agent = (name: string) => defineAgent({ name, model: 'gpt-5-mini', instructions: 'Be brief.' });
export default defineConfig({ agents: [agent('triage'), agent('front-desk')], defaultAgent: 'front-desk' });
`,
  );
  writeFileSync(join(project, 'threads.jsonl'), '');
});
afterAll(async () => {
  await temporal.close();
  rmSync(project, { recursive: true, force: true });
});

/** `threadline migrate ...` in the project, until it prints `Started` (then Ctrl-C: it detaches). */
function migrate(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repo, 'src/cli/threadline.ts'), 'migrate', ...args],
    {
      cwd: project,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: inject('temporalNamespace'),
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: '',
        LOG_LEVEL: 'warn',
      },
    },
  );
  let output = '';
  const onData = (d: Buffer) => {
    output += d.toString();
    if (output.includes('Started ')) child.kill('SIGINT');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

async function startedAgent(workflowId: string): Promise<string> {
  const handle = temporal.client.workflow.getHandle(workflowId);
  const history = await handle.fetchHistory();
  await handle.terminate('test done');
  const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
  const { defaultPayloadConverter } = await import('@temporalio/common');
  const input = defaultPayloadConverter.fromPayload<MigrationInput>(started.input!.payloads![0]!);
  return input.target.agent;
}

describe('threadline migrate', () => {
  it("gives migrated conversations the project's default agent unless --agent names another", async () => {
    const [name, named] = [`pkg-default-${Date.now()}`, `pkg-named-${Date.now()}`];
    const [run] = await Promise.all([
      migrate(['export:threads.jsonl', '--dry-run', '--name', name]),
      migrate([
        'export:threads.jsonl',
        '--dry-run',
        '--name',
        named,
        '--agent',
        'triage',
        '-c',
        'threadline.config.ts',
      ]),
    ]);
    expect(run.output).toContain(`Started migration:${name}`);
    expect(await startedAgent(`migration:${name}`)).toBe('front-desk');
    expect(await startedAgent(`migration:${named}`)).toBe('triage');
  }, 60_000);

  it('refuses an agent the project does not define, before starting anything', async () => {
    const run = await migrate([
      'export:threads.jsonl',
      '--name',
      `pkg-ghost-${Date.now()}`,
      '--agent',
      'assistant',
    ]);
    expect(run.code).toBe(1);
    expect(run.output.trim()).toBe(
      "--agent assistant is not one of the project's agents (triage, front-desk): name one of them or leave it out",
    );
  }, 60_000);
});

describe('migrationAgent', () => {
  it('--agent, else the project default, else the deployment default', () => {
    const p = { defaultAgent: 'front-desk', agents: ['front-desk', 'triage'] };
    expect(migrationAgent(undefined, p, 'concierge')).toBe('front-desk');
    expect(migrationAgent('triage', p, 'concierge')).toBe('triage');
    expect(migrationAgent(undefined, undefined, 'concierge')).toBe('concierge');
    expect(migrationAgent('anything', undefined, 'concierge')).toBe('anything');
    expect(() => migrationAgent('ghost', p, 'concierge')).toThrow(/--agent ghost is not one of/);
  });
});
