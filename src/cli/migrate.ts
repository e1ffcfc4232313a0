import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config.js';
import { DEFAULT_OPTIONS, type MigrationProgress } from '../migration/types.js';
import { createPool } from '../store/pool.js';
import type { migrationWorkflow, MigrationInput } from '../workflows/migration.js';
import { migrationProgressQuery, migrationWorkflowId } from '../workflows/migrationMessages.js';
import { parseSource, renderProgress, renderSummary } from './migrateView.js';
import { onShutdownSignal } from '../shutdownSignal.js';

/**
 * `npm run migrate -- <source> [options]`: starts a migration workflow (or attaches to one), shows
 * its progress until it ends, then prints a summary and writes the failures file. Ctrl-C detaches:
 * the migration is a workflow and keeps running without this process.
 */

const positive = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

export function buildCommand(): Command {
  return new Command('migrate')
    .description('Migrate Assistants threads, response chains or a legacy messages table into Threadline.')
    .argument('[source]', 'assistants | export:<file.jsonl> | chains:<file.csv|json> | table:<name>')
    .option('--name <name>', 'migration name (workflow id migration:<name>); default mig-<time>')
    .option('--attach <name>', 'follow a running (or finished) migration instead of starting one')
    .option('--tenant <tenant>', 'tenant of the conversations', 'default')
    .option(
      '--channel <channel>',
      'channel of the conversations (the user identifier is the external id)',
      'web',
    )
    .option(
      '--agent <agent>',
      "agent of the conversations (default: the project's default agent; with npm run migrate, the deployment's)",
    )
    .option(
      '-c, --config <file>',
      "threadline migrate: the project's config, whose default agent --agent defaults to (default: threadline.config.ts here)",
    )
    .option(
      '--mapping <file|table:name[:user_col:thread_col]>',
      'user identifier to thread id (CSV/JSON or a table)',
    )
    .option('--threads <ids>', 'comma-separated thread ids (assistants source)')
    .option('--base-url <url>', 'an Assistants-compatible endpoint (default: the worker’s OpenAI base URL)')
    .option('--no-tool-calls', 'do not read run steps (tool calls and outputs)')
    .option(
      '--columns <pairs>',
      'table columns, e.g. key=chat_id,role=author,content=body,createdAt=ts,id=id',
    )
    .option('--seed <n>', 'seed an OpenAI conversation with the last n items', positive('--seed'))
    .option('--dry-run', 'report what would change, write nothing to the transcript', false)
    .option('--window <k>', 'threads migrated at once', positive('--window'), DEFAULT_OPTIONS.window)
    .option(
      '--continue-every <n>',
      'children per workflow run',
      positive('--continue-every'),
      DEFAULT_OPTIONS.continueAsNewEvery,
    )
    .option('--page-size <n>', 'units read per page', positive('--page-size'), DEFAULT_OPTIONS.pageSize)
    .option('--failures <file>', 'where to write the failures (JSONL); default <name>-failures.jsonl')
    .option('--interval <ms>', 'progress refresh interval', positive('--interval'), 500);
}

interface Options {
  name?: string;
  attach?: string;
  tenant: string;
  channel: string;
  agent?: string;
  config?: string;
  mapping?: string;
  threads?: string;
  baseUrl?: string;
  toolCalls: boolean;
  columns?: string;
  seed?: number;
  dryRun: boolean;
  window: number;
  continueEvery: number;
  pageSize: number;
  failures?: string;
  interval: number;
}

const idOf = (name: string) => (name.startsWith('migration:') ? name : migrationWorkflowId(name));

/** The agents a project defines (`threadline migrate` loads them from threadline.config.ts). */
export interface MigrateProject {
  defaultAgent: string;
  agents: readonly string[];
}

/**
 * The agent migrated conversations get: `--agent`, else the one that answers new conversations (the
 * project's default, else the deployment's), so a migrated user's next message reaches the agent a
 * new user would. With a project, a name it does not define is refused before anything starts.
 */
export function migrationAgent(
  requested: string | undefined,
  project: MigrateProject | undefined,
  deploymentDefault: string,
): string {
  const agent = requested ?? project?.defaultAgent ?? deploymentDefault;
  if (project && !project.agents.includes(agent))
    throw new Error(
      `--agent ${agent} is not one of the project's agents (${project.agents.join(', ')}): name one of them or leave it out`,
    );
  return agent;
}

/**
 * Runs `npm run migrate` (and `threadline migrate`) on argv as Node gives it: [node, script, ...args].
 * `project` is asked for only when a migration starts (not for --help or --attach).
 */
export async function main(
  argv: string[],
  project?: (configFile: string | undefined) => Promise<MigrateProject | undefined>,
): Promise<number> {
  const command = buildCommand();
  command.parse(argv);
  const opts = command.opts<Options>();
  const [sourceArg] = command.args;
  if (!opts.attach && !sourceArg) command.error('a <source> is required unless --attach is given');

  if (opts.config && !project)
    command.error('--config applies to threadline migrate (npm run migrate uses the deployment agents)');
  const config = loadConfig(process.env);
  const agent = opts.attach
    ? undefined
    : migrationAgent(opts.agent, await project?.(opts.config), config.routing.defaultAgent);
  const connection = await Connection.connect({
    address: config.temporal.address ?? 'localhost:7233',
    ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey, tls: true } : {}),
  });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  try {
    let handle: WorkflowHandle<typeof migrationWorkflow>;
    if (opts.attach) {
      handle = client.workflow.getHandle(idOf(opts.attach));
      await handle.describe().catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) throw new Error(`No migration ${idOf(opts.attach!)}.`);
        throw err;
      });
    } else {
      const input: MigrationInput = {
        source: parseSource(sourceArg!, opts, process.cwd()),
        target: {
          tenant: opts.tenant,
          channel: opts.channel,
          agent: agent!,
          ...(opts.seed ? { seedLastItems: opts.seed } : {}),
        },
        options: {
          dryRun: opts.dryRun,
          window: opts.window,
          continueAsNewEvery: opts.continueEvery,
          pageSize: opts.pageSize,
        },
      };
      const name = opts.name ?? `mig-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
      handle = await client.workflow.start('migrationWorkflow', {
        workflowId: idOf(name),
        taskQueue: config.temporal.taskQueue,
        args: [input],
      });
      console.log(`Started ${handle.workflowId}. Ctrl-C detaches; follow again with --attach ${name}`);
    }

    const final = await follow(handle, opts.interval);
    if (!final) {
      console.log(
        `\nDetached. ${handle.workflowId} keeps running; follow it with --attach ${handle.workflowId}`,
      );
      return 0;
    }
    console.log(renderSummary(final));
    const file = opts.failures ?? `${handle.workflowId.replace(/^migration:/, '')}-failures.jsonl`;
    const written = await writeFailures(config.database.url, final, file);
    console.log(written.message);
    return final.failed > 0 ? 2 : 0;
  } finally {
    await connection.close();
  }
}

/** Polls the progress query until the workflow ends (its result) or Ctrl-C (undefined). */
async function follow(
  handle: WorkflowHandle<typeof migrationWorkflow>,
  intervalMs: number,
): Promise<MigrationProgress | undefined> {
  const tty = process.stderr.isTTY;
  let detached = false;
  let wake: () => void = () => {};
  const onSigint = () => {
    detached = true;
    wake();
  };
  // Kept after the loop: see shutdownSignal.ts (a second Ctrl-C quits at once).
  onShutdownSignal(onSigint);
  const result = handle.result().then(
    (r) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  let done: Awaited<typeof result> | undefined;
  void result.then((r) => {
    done = r;
    wake();
  });
  let lastPrinted = 0;
  try {
    while (!detached && !done) {
      const p = await handle.query(migrationProgressQuery).catch(() => undefined);
      if (p) {
        const line = renderProgress(p);
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (Date.now() - lastPrinted > 5_000) {
          process.stderr.write(`${line}\n`);
          lastPrinted = Date.now();
        }
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs);
      });
    }
  } finally {
    if (tty) process.stderr.write('\n');
  }
  if (detached) return undefined;
  if (!done!.ok) throw done!.e;
  return done!.r;
}

/** Failed units and unreadable source lines as JSONL, from Postgres (the workflow keeps only the latest). */
async function writeFailures(
  databaseUrl: string | undefined,
  p: MigrationProgress,
  file: string,
): Promise<{ message: string }> {
  if (p.failed === 0 && p.sourceIssues.count === 0) return { message: 'No failures.' };
  const lines: string[] = [];
  if (databaseUrl) {
    const pool = createPool(databaseUrl, 1);
    try {
      const units = await pool.query<{ unit_id: string; external_id: string; reason: string }>(
        `SELECT unit_id, external_id, reason FROM migration_units
          WHERE migration_id = $1 AND status = 'failed' ORDER BY unit_id`,
        [p.migrationId],
      );
      for (const u of units.rows)
        lines.push(JSON.stringify({ unit: u.unit_id, user: u.external_id, reason: u.reason }));
      const issues = await pool.query<{ location: string; reason: string }>(
        'SELECT location, reason FROM migration_source_issues WHERE migration_id = $1 ORDER BY line NULLS FIRST, location',
        [p.migrationId],
      );
      for (const i of issues.rows) lines.push(JSON.stringify({ location: i.location, reason: i.reason }));
    } finally {
      await pool.end();
    }
  } else {
    for (const f of p.recentFailures) lines.push(JSON.stringify({ unit: f.unitId, reason: f.reason }));
    for (const l of p.sourceIssues.first) lines.push(JSON.stringify({ location: l }));
  }
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  const partial = databaseUrl
    ? ''
    : ' (without DATABASE_URL: only the latest failures; the rest are in migration_units)';
  return {
    message: `${p.failed} failed unit(s), ${p.sourceIssues.count} unreadable line(s): ${file}${partial}`,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
