#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import type { Routing } from '../agents/routing.js';
import type { Config } from '../config.js';
import type { ResolvedConfig } from '../public/config.js';
import { CONFIG_FILES, findConfigFile } from './configNames.js';
import { onShutdownSignal } from '../shutdownSignal.js';

/**
 * `threadline <command>`: the installed package's command. Environment variables configure the
 * runtime exactly as for `npm run dev` (docs/deploy.md); threadline.config.ts says which agents run.
 * Each command imports its part of the runtime when it runs, so --help and a config mistake answer
 * without loading Temporal's native worker.
 */

const CONFIG_HELP = `the project's config (default: the first of ${CONFIG_FILES.join(', ')} in the current directory)`;

interface ConfigOption {
  config?: string;
}

/**
 * The environment's settings and the project's agents and channels, each checked with a message
 * naming the field; the config file's channels merged into the environment's (mergeChannels says
 * how, and why neither silently wins).
 */
async function load(opts: ConfigOption): Promise<{ config: Config; project: ResolvedConfig }> {
  const [{ loadConfig }, { loadConfigFile }, { mergeChannels }] = await Promise.all([
    import('../config.js'),
    import('./configFile.js'),
    import('../public/channels.js'),
  ]);
  const file = opts.config ?? findConfigFile(process.cwd());
  if (!file) {
    throw new Error(
      `No threadline.config.ts in ${process.cwd()}: create one that ends with ` +
        '`export default defineConfig({ agents: [...] })` (docs/package.md), or pass --config <file>.',
    );
  }
  const project = await loadConfigFile(file);
  const config = loadConfig(process.env, {
    channelsDeclared: {
      whatsapp: project.channels?.whatsapp !== undefined,
      webhook: project.channels?.webhook !== undefined,
    },
  });
  const merged = mergeChannels(
    { channels: config.channels, env: process.env },
    project.channels,
    [...project.agents.keys()],
    basename(file),
  );
  if (merged.problems.length) throw new Error(merged.problems.join('\n'));
  return { config: { ...config, channels: merged.channels }, project };
}

const port = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a TCP port (0-65535)');
  return n;
};

/**
 * Which agent answers new conversations: the project's routing, else the deployment's (AGENT_ROUTING)
 * with the project's default agent (the built-in concierge is not one of a project's agents).
 */
function routingOf(project: ResolvedConfig, config: Config): Routing {
  return project.routing ?? { ...config.routing, defaultAgent: project.defaultAgent };
}

export function buildProgram(): Command {
  const program = new Command('threadline')
    .description(
      'Durable conversational agents: one Temporal workflow per conversation, the transcript in Postgres.',
    )
    .showHelpAfterError('(add --help for usage)');

  program
    .command('dev')
    .description(
      'Everything in one process on embedded defaults: Temporal dev server, PGlite, the OpenAI emulator ' +
        '(unless OPENAI_API_KEY is set), a worker and the API. TEMPORAL_ADDRESS, DATABASE_URL and ' +
        'OPENAI_BASE_URL reuse running services; state is kept in THREADLINE_DATA_DIR (.data).',
    )
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (opts: ConfigOption) => {
      const { config, project } = await load(opts);
      const { runDev } = await import('../dev.js');
      await runDev(config, { agents: project.agents, routing: routingOf(project, config) });
    });

  program
    .command('worker')
    .description(
      "A worker running the config's agents against an existing Temporal (TEMPORAL_ADDRESS) and " +
        'PostgreSQL (DATABASE_URL); applies the schema migrations at start.',
    )
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (opts: ConfigOption) => {
      const { config, project } = await load(opts);
      const { runWorker } = await import('../worker.js');
      await runWorker(config, project.agents, routingOf(project, config));
    });

  program
    .command('api')
    .description(
      "The HTTP API (PORT, HOST) against an existing Temporal and PostgreSQL; the config's default " +
        'agent answers new conversations.',
    )
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (opts: ConfigOption) => {
      const { config, project } = await load(opts);
      const [{ runApi }, { createLogger }] = await Promise.all([
        import('../api/server.js'),
        import('../logger.js'),
      ]);
      await runApi(config, createLogger(config.logLevel, 'api'), routingOf(project, config));
    });

  program
    .command('migrate')
    .description(
      'Migrate Assistants threads, response chains or a legacy messages table into Threadline ' +
        '(threadline migrate --help lists its options).',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { main: runMigrate } = await import('./migrate.js');
      process.exitCode = await runMigrate([process.argv[0]!, 'threadline migrate', ...args], async (file) => {
        const { config, project } = await load(file ? { config: file } : {});
        return { defaultAgent: routingOf(project, config).defaultAgent, agents: [...project.agents.keys()] };
      });
    });

  program
    .command('emulator')
    .description('The OpenAI-compatible emulator on its own (OPENAI_BASE_URL for a worker without OpenAI).')
    .option('--port <port>', 'port (0: a free one)', port, 8787)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--state-file <file>',
      'keep stored responses and conversations across restarts in this JSON file',
    )
    .option('--no-reasoning-items', 'reasoning models answer without reasoning items')
    .action(async (opts: { port: number; host: string; stateFile?: string; reasoningItems: boolean }) => {
      const { startEmulator } = await import('../emulator/server.js');
      const emulator = await startEmulator({
        port: opts.port,
        host: opts.host,
        ...(opts.stateFile ? { stateFile: resolve(opts.stateFile) } : {}),
        reasoningItems: opts.reasoningItems,
        logger: { info: (msg) => console.log(msg), warn: (msg) => console.warn(msg) },
      });
      console.log(`OpenAI emulator ready: OPENAI_BASE_URL=${emulator.baseUrl}`);
      const stop = () => void emulator.close().then(() => process.exit(0));
      onShutdownSignal(stop);
    });

  return program;
}

// Run when executed, whether as dist/cli/threadline.js, through npm's bin link (a symlink) or with tsx.
const self = fileURLToPath(import.meta.url);
const invoked = process.argv[1] ? realpathOrSelf(process.argv[1]) : undefined;
if (invoked === self) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
