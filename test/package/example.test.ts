import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, uniqueTaskQueue, type TestDatabase } from '../support/env.js';

/**
 * examples/hotel-bot as a user runs it: this repository packed by `npm pack` (prepack builds dist/),
 * the tarball installed into a copy of the example by `npm install`, then `threadline dev` from the
 * installed package answering a turn that calls one of the example's own tools, through the API, on
 * plain node: the example's node_modules holds no tsx.
 *
 * To keep it in tens of seconds, the example's other dependencies are this repository's
 * node_modules, linked in before `npm install` (npm keeps a link that satisfies a dependency); the
 * tarball itself is installed by npm from the file, as any package is. `threadline dev` runs
 * against the suite's Temporal, PostgreSQL and emulator (their variables make it reuse them).
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'threadline-pkg-'));
const example = join(work, 'hotel-bot');
const installed = join(example, 'node_modules', 'threadline');
const bin = join(example, 'node_modules', '.bin', 'threadline');
const timings: Record<string, number> = {};
const children: ChildProcess[] = [];

// A parent `npm test` exports npm_config_* (prefix among them): a child npm would obey them.
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? cleanEnv() });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

async function mustRun(command: string, args: string[], cwd: string): Promise<string> {
  const { code, output } = await run(command, args, { cwd });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`);
  return output;
}

/** The example's dependencies other than threadline, as links to this repository's copies. */
function linkRepoModules(project: string): void {
  const from = join(repo, 'node_modules');
  const to = join(project, 'node_modules');
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    // tsx too: the installed package must run on plain node, so the example gets no copy of it.
    if (name.startsWith('.') || name === 'threadline' || name === 'tsx') continue;
    if (name.startsWith('@')) {
      mkdirSync(join(to, name), { recursive: true });
      for (const inner of readdirSync(join(from, name)))
        symlinkSync(join(from, name, inner), join(to, name, inner));
    } else symlinkSync(join(from, name), join(to, name));
  }
}

beforeAll(async () => {
  let started = Date.now();
  await mustRun('npm', ['pack', '--pack-destination', work], repo);
  timings.packMs = Date.now() - started;
  const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  expect(tarballs).toHaveLength(1);

  cpSync(join(repo, 'examples', 'hotel-bot'), example, {
    recursive: true,
    filter: (src) => !/[/\\](node_modules|\.data|threadline\.tgz|package-lock\.json)$/.test(src),
  });
  renameSync(join(work, tarballs[0]!), join(example, 'threadline.tgz'));
  linkRepoModules(example);
  started = Date.now();
  await mustRun(
    'npm',
    ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'],
    example,
  );
  timings.installMs = Date.now() - started;
}, 300_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  console.log(`[package] npm pack ${timings.packMs} ms, npm install ${timings.installMs} ms`);
  rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds compiled JavaScript with declarations: every export target, the bin, no sources', async () => {
    const entries = (await mustRun('tar', ['-tzf', join(example, 'threadline.tgz')], work))
      .split('\n')
      .filter(Boolean)
      .map((e) => e.replace(/^package\//, ''));
    expect(
      entries.filter((e) => !/^(dist\/|config\/prices\.json$|package\.json$|README\.md$)/.test(e)),
    ).toEqual([]);
    expect(entries.filter((e) => e.endsWith('.ts') && !e.endsWith('.d.ts'))).toEqual([]);
    expect(entries).toContain('dist/store/migrations/0001_init.sql');

    // npm installed what was packed: the files, not a link to this repository.
    expect(existsSync(join(installed, 'src'))).toBe(false);
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; default: string }>;
      bin: Record<string, string>;
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
    };
    const targets = Object.entries(pkg.exports).filter(([key]) => key !== './package.json');
    expect(targets.map(([key]) => key)).toEqual(
      expect.arrayContaining(['.', './agents', './worker', './workflows', './api', './session']),
    );
    for (const [key, target] of targets) {
      if (typeof target === 'string') throw new Error(`exports["${key}"] has no types`);
      expect(target.default, key).toMatch(/^\.\/dist\/.+\.js$/);
      expect(target.types, key).toBe(target.default.replace(/\.js$/, '.d.ts'));
      expect(existsSync(join(installed, target.default)), target.default).toBe(true);
      expect(existsSync(join(installed, target.types)), target.types).toBe(true);
    }
    expect(readFileSync(join(installed, pkg.bin.threadline!), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    // Compiled JavaScript needs no TypeScript loader: tsx is the repository's, not the package's.
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(existsSync(join(example, 'node_modules', 'tsx'))).toBe(false);
    // One Temporal SDK in a user's project: the package takes the project's copy.
    expect(Object.keys(pkg.dependencies).filter((d) => d.startsWith('@temporalio/'))).toEqual([]);
    expect(Object.keys(pkg.peerDependencies)).toEqual(
      expect.arrayContaining(['@temporalio/worker', '@temporalio/workflow', '@temporalio/client']),
    );
  });

  it('finds the files the compiled worker loads beside itself: its workflows and their interceptors', async () => {
    const worker = (await import(join(installed, 'dist', 'worker.js'))) as { WORKFLOWS_PATH: string };
    const telemetry = (await import(join(installed, 'dist', 'telemetry', 'temporal.js'))) as {
      WORKFLOW_INTERCEPTORS_PATH: string;
    };
    // With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), the worker bundles the interceptors module too.
    for (const path of [worker.WORKFLOWS_PATH, telemetry.WORKFLOW_INTERCEPTORS_PATH]) {
      expect(path.startsWith(join(installed, 'dist')), path).toBe(true);
      expect(existsSync(path), path).toBe(true);
    }
  });

  it('builds only when packed: nothing runs on npm install of a fresh clone', () => {
    const { scripts } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(scripts.prepack).toBe('npm run build');
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare'])
      expect(scripts[hook], hook).toBeUndefined();
  });

  it("type-checks the example's config against the installed declarations", async () => {
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const { code, output } = await run(process.execPath, [tsc, '-p', join(example, 'tsconfig.json')], {
      cwd: example,
    });
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('bundles threadline/workflows, resolved from the installed package, for the sandbox', async () => {
    const workflowsPath = createRequire(join(example, 'package.json')).resolve('threadline/workflows');
    expect(workflowsPath).toBe(join(installed, 'dist', 'public', 'workflows.js'));
    const quiet = () => {};
    const { code } = await bundleWorkflowCode({
      workflowsPath,
      logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error },
    });
    expect(code).toContain('conversationWorkflow');
  }, 120_000);
});

describe('the threadline command', () => {
  it('answers --help for itself and each command', async () => {
    const commands = [[], ['dev'], ['worker'], ['api'], ['migrate'], ['emulator']];
    const results = await Promise.all(commands.map((c) => run(bin, [...c, '--help'], { cwd: example })));
    results.forEach(({ code, output }, i) => {
      expect(code, commands[i]!.join(' ')).toBe(0);
      expect(output).toMatch(/^Usage: /);
    });
    expect(results[0]!.output).toMatch(/dev \[options\][\s\S]*worker[\s\S]*api[\s\S]*migrate[\s\S]*emulator/);
  });

  it('stops on a bad config with the field and the fix, before starting anything', async () => {
    writeFileSync(
      join(example, 'bad.config.ts'),
      "export default { agents: [{ name: 'x', model: 'gpt-5-mini', instructions: 'Hi.', tools: [] }] };\n",
    );
    const { code, output } = await run(bin, ['dev', '--config', 'bad.config.ts'], { cwd: example });
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      'bad.config.ts: agents[0] was not made by defineAgent: wrap it in defineAgent({ name, model, instructions, tools }) from threadline',
    );
  });

  describe('threadline dev in the example', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase({ migrate: false });
    });
    afterAll(async () => {
      await db.drop();
    });

    it("answers a turn through the API with the example's own tool", async () => {
      const child = spawn(bin, ['dev'], {
        cwd: example,
        env: {
          ...cleanEnv(),
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          TEMPORAL_NAMESPACE: inject('temporalNamespace'),
          TEMPORAL_TASK_QUEUE: uniqueTaskQueue('pkg'),
          DATABASE_URL: db.url,
          OPENAI_BASE_URL: inject('emulatorBaseUrl'),
          PORT: '0',
          THREADLINE_DATA_DIR: join(work, 'data'),
          LOG_LEVEL: 'warn',
        },
      });
      children.push(child);
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const started = Date.now();
      // Up to the banner's last line (API key): a slow machine can deliver the banner in chunks.
      while (!/Threadline is running[\s\S]*API key .*\n/.test(output)) {
        if (Date.now() - started > 90_000 || child.exitCode !== null)
          throw new Error(`threadline dev did not come up:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      timings.devStartMs = Date.now() - started;
      expect(output).toMatch(/Agents\s+front-desk answers new conversations/);
      // The schema came from the SQL files inside the tarball.
      expect(output).toMatch(/applied 0001_init\.sql/);
      const url = /API\s+(http:\/\/\S+)/.exec(output)![1]!;
      const key = /API key\s+(tl_\S+)/.exec(output)![1]!;

      const res = await fetch(
        `${url}/v1/conversations/web/guest-${randomBytes(4).toString('hex')}/messages?wait=true`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            text: 'Two of us on 2026-07-01, what is free? call check_rooms {"night":"2026-07-01","guests":2}',
          }),
        },
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { reply: { status: string; text: string } };
      expect(body.reply.status).toBe('answered');
      // The emulator answers with the tool's output: the example's tool ran, from the installed package.
      expect(body.reply.text).toBe(
        'Tool results: check_rooms -> {"night":"2026-07-01","guests":2,"free":[{"type":"double","rate_eur":140},{"type":"suite","rate_eur":260}]}.',
      );

      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output).toContain('Stopped.');
    }, 150_000);
  });
});
