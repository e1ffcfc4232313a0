/**
 * `npm run fuzz`: schemathesis against the API's own /openapi.json, with every check and the
 * stateful phase, on the whole stack (a Temporal dev server, PostgreSQL, the emulator, a worker,
 * the API). Any finding fails the run: the document is the contract.
 *
 *   npm run fuzz                  # 25 examples per operation
 *   npm run fuzz -- --examples 200 --seed 42
 *
 * Tenant operations run with a tenant key, admin operations with the admin key, one schemathesis
 * run each. streamEvents is left out: an event stream stays open until the client leaves, which a
 * fuzzer reads as a timeout. Needs schemathesis (SCHEMATHESIS, or the venv .ci/run installs).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import { createApiKey } from '../src/api/apiKeys.js';
import { createApp, type AppLocals } from '../src/api/app.js';
import { listen } from '../src/api/server.js';
import { generateAssistantsFixture } from '../src/emulator/server.js';
import { AGENTS } from '../bench/lib/agents.js';
import { startStack } from '../bench/lib/stack.js';

export const SCHEMATHESIS_VERSION = '4.32.5';
/** Operations no fuzzer can exercise: they answer with a stream that does not end. */
const STREAMS = new Set(['streamEvents']);

const program = new Command()
  .option('--examples <n>', 'examples per operation', '25')
  .option('--seed <n>', 'random seed (a finding is reproducible with the same seed)')
  .option('--max-time <s>', 'time budget of each schemathesis run, seconds', '60')
  .parse();
const opts = program.opts<{ examples: string; seed?: string; maxTime: string }>();

function schemathesisPath(): string {
  if (process.env.SCHEMATHESIS) return process.env.SCHEMATHESIS;
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(cache, 'threadline', `schemathesis-${SCHEMATHESIS_VERSION}`, 'bin', 'schemathesis');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env, cwd });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const bin = schemathesisPath();
  if (!existsSync(bin)) {
    console.error(
      `schemathesis not found at ${bin}. Install it (what .ci/run does):\n` +
        `  python3 -m venv ${join(bin, '..', '..')} && ${join(bin, '..', 'pip')} install schemathesis==${SCHEMATHESIS_VERSION}\n` +
        'or set SCHEMATHESIS to its path.',
    );
    return 2;
  }
  const started = performance.now();
  const log = (line: string) => console.log(`[fuzz] ${line}`);
  const stack = await startStack({
    fixture: generateAssistantsFixture({ threads: 3, messagesPerThread: 2, seed: 11 }),
    log,
  });
  try {
    const adminKey = `admin-${randomBytes(16).toString('hex')}`;
    const app = createApp({
      client: stack.client,
      pool: stack.pool,
      taskQueue: stack.taskQueue,
      agent: AGENTS.plain,
      replyWaitMs: 5_000,
      // A 5xx is a finding: its cause goes to stderr.
      log: pino({ level: 'error' }, pino.destination(2)),
      adminApiKey: adminKey,
      rateLimitPerMinute: 100_000_000,
    });
    const http = await listen(app, '127.0.0.1', 0, 2_000);
    try {
      const tenantKey = (await createApiKey(stack.pool, { tenant: 'fuzz', name: 'fuzz' })).key;
      const { specs } = app.locals as AppLocals;
      const ids = (admin: boolean) =>
        specs
          .filter((s) => !STREAMS.has(s.operationId) && (s.access === 'admin') === admin)
          .map((s) => s.operationId);
      const reportDir = mkdtempSync(join(tmpdir(), 'threadline-fuzz-'));
      const env = { ...process.env, PYTHONWARNINGS: 'ignore' };
      let failed = false;
      for (const [who, key, operations] of [
        ['tenant', tenantKey, ids(false)],
        ['admin', adminKey, ids(true)],
      ] as const) {
        log(`${who} key: ${operations.length} operations`);
        const code = await run(
          bin,
          [
            'run',
            `${http.url}/openapi.json`,
            '--checks',
            'all',
            // DELETE on a conversation closes it; it stays readable (status `closed`) and the next
            // message reopens it, by design: "deleted resource still available" does not apply.
            '--exclude-checks',
            'use_after_free',
            '--phases',
            'examples,coverage,fuzzing,stateful',
            '--max-examples',
            opts.examples,
            '--max-time',
            opts.maxTime,
            // One worker: with several, hypothesis' lambda descriptions race in CPython 3.11's ast
            // module ("AST constructor recursion depth mismatch"), a tool error, not a finding.
            '--workers',
            '1',
            '--request-timeout',
            '20',
            '--header',
            `Authorization: Bearer ${key}`,
            '--include-operation-id-regex',
            `^(${operations.join('|')})$`,
            '--report',
            'junit',
            '--report-dir',
            join(reportDir, who),
            '--generation-database',
            'none',
            '--no-color',
            ...(opts.seed ? ['--seed', opts.seed] : []),
          ],
          env,
          // schemathesis keeps state in its working directory: not in the repository.
          reportDir,
        );
        if (code !== 0) failed = true;
      }
      log(`${failed ? 'FINDINGS' : 'no findings'} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
      return failed ? 1 : 0;
    } finally {
      await http.stop();
    }
  } finally {
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
