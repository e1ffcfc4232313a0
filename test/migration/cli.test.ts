import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseColumns, parseSource, renderProgress, renderSummary } from '../../src/cli/migrateView.js';
import type { MigrationProgress } from '../../src/migration/types.js';
import { startMigrationEnv, type MigrationEnv } from './harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'threadline-cli-'));

const progress: MigrationProgress = {
  migrationId: 'migration:x',
  status: 'running',
  dryRun: false,
  total: 500,
  done: 240,
  failed: 5,
  skipped: 5,
  inFlight: 8,
  items: 1320,
  rate: 22.5,
  etaSeconds: 11,
  elapsedSeconds: 11,
  sourceIssues: { count: 0, first: [] },
  recentFailures: [],
};

describe('migrate CLI, pure parts', () => {
  it('parses sources and names the accepted forms', () => {
    expect(parseSource('export:data/e.jsonl', { mapping: 'u.csv' }, '/srv')).toEqual({
      kind: 'assistants-export',
      file: '/srv/data/e.jsonl',
      mapping: { file: '/srv/u.csv' },
    });
    expect(
      parseSource('assistants', { threads: 'a, b', mapping: 'table:users:uid:tid', toolCalls: false }, '/'),
    ).toEqual({
      kind: 'assistants-api',
      threadIds: ['a', 'b'],
      mapping: { table: 'users', userColumn: 'uid', threadColumn: 'tid' },
      toolCalls: false,
    });
    expect(parseSource('table:legacy', { columns: 'key=chat_id,role=author' }, '/')).toEqual({
      kind: 'messages-table',
      table: 'legacy',
      columns: { key: 'chat_id', role: 'author' },
    });
    expect(() => parseSource('threads', {}, '/')).toThrow(/is not one of: assistants, export:<file.jsonl>/);
    expect(() => parseColumns('colour=red')).toThrow(/must be one of key, role/);
  });

  it('renders a progress line and a summary table', () => {
    expect(renderProgress(progress, 10)).toBe(
      '[#####-----] 250/500 50% done 240 skipped 5 failed 5 items 1320 22.5/s ETA 11s running',
    );
    const table = renderSummary({ ...progress, status: 'completed' });
    expect(table).toContain('| Failed                  | 5');
    expect(new Set(table.split('\n').map((l) => l.length)).size).toBe(1); // aligned
  });
});

let env: MigrationEnv;
beforeAll(async () => {
  env = await startMigrationEnv();
});
afterAll(async () => {
  await env?.close();
});

function cli(args: string[], onStdout?: (text: string, kill: () => void) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/migrate.ts', ...args], {
    cwd: root,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      TEMPORAL_TASK_QUEUE: env.taskQueue,
      DATABASE_URL: env.db.url,
      // Migrated conversations get the deployment's default agent; the harness worker runs `assistant`.
      AGENT_ROUTING: JSON.stringify({ defaultAgent: 'assistant' }),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout, () => child.kill('SIGINT'));
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

describe('npm run migrate', () => {
  it('runs a migration to its summary and writes the failures file', { timeout: 60_000 }, async () => {
    const run = await cli([
      'assistants',
      '--threads',
      'thread_fixture_plain,thread_missing',
      '--name',
      'cli-run',
      '--interval',
      '100',
      '--failures',
      join(dir, 'cli-run-failures.jsonl'),
    ]);
    expect(run.stdout).toContain('Started migration:cli-run.');
    expect(run.stdout).toMatch(/\| Migrated\s+\| 1\s+\|/);
    expect(run.stdout).toMatch(/\| Failed\s+\| 1\s+\|/);
    expect(run.code).toBe(2); // some units failed
    const failures = readFileSync(join(dir, 'cli-run-failures.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(failures).toEqual([
      {
        unit: 'thread_missing',
        user: 'thread_missing',
        reason: expect.stringMatching(/^OpenAI 404: .*No thread found/),
      },
    ]);
  });

  it(
    'detaches on Ctrl-C without stopping the migration; --attach follows it to the end',
    { timeout: 60_000 },
    async () => {
      env.emulator.faults.add({
        kind: 'latency',
        latencyMs: 500,
        times: -1,
        match: { path: '^/v1/threads/' },
      });
      let sent = false;
      const first = await cli(
        ['assistants', '--name', 'cli-detach', '--window', '1', '--interval', '100'],
        (out, kill) => {
          if (!sent && out.includes('Started')) {
            sent = true;
            setTimeout(kill, 800);
          }
        },
      );
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('Detached. migration:cli-detach keeps running');
      expect((await env.client.workflow.getHandle('migration:cli-detach').describe()).status.name).toBe(
        'RUNNING',
      );

      const attached = await cli(['--attach', 'cli-detach', '--interval', '100']);
      env.emulator.faults.clear();
      expect(attached.code).toBe(0);
      expect(attached.stdout).toMatch(/\| Status\s+\| completed/);
      expect(attached.stdout).toMatch(/\| Units\s+\| 3\s+\|/);
      expect(attached.stdout).toContain('No failures.');
    },
  );

  it('says what it needs when the source is missing', async () => {
    const run = await cli([]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('a <source> is required unless --attach is given');
  });
});
