import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { defaultAgents, type AgentRegistry } from './agents/registry.js';
import type { Routing } from './agents/routing.js';
import { createApp } from './api/app.js';
import { DEV_TENANT, ensureDevApiKey } from './api/devKey.js';
import { appOptions, listen } from './api/server.js';
import { buildSenders } from './channels/senders.js';
import { buildMediaFetchers } from './media/fetchers.js';
import { loadConfig, type Config } from './config.js';
import { startEmulator } from './emulator/server.js';
import { createLogger } from './logger.js';
import { createOpenAIClient } from './openaiClient.js';
import { startEmbeddedPostgres } from './store/embedded.js';
import { migrate } from './store/migrate.js';
import { createPool } from './store/pool.js';
import { resolveTemporalCli } from './temporal/cli.js';
import { startDevServer } from './temporal/devServer.js';
import { resolveTemporalServer, startTemporalServer, TEMPORAL_SERVER_VERSION } from './temporal/server.js';
import { tracedClient } from './telemetry/temporal.js';
import { startTracing } from './telemetry/tracing.js';
import { createWorker } from './worker.js';

/**
 * `npm run dev`: the whole runtime in one process on embedded defaults. Each service is reused
 * when its variable points at a running one (TEMPORAL_ADDRESS, DATABASE_URL, OPENAI_API_KEY or
 * OPENAI_BASE_URL), otherwise started here with its state under the data directory.
 */

type Stop = { name: string; stop: () => Promise<unknown> };

const SERVER_NEEDS_DATABASE =
  'THREADLINE_TEMPORAL=server runs Temporal on PostgreSQL: set DATABASE_URL to a PostgreSQL server whose ' +
  'user may create databases (Temporal gets its own databases temporal and temporal_visibility there), ' +
  'or unset THREADLINE_TEMPORAL for the dev server.';

export interface DevOptions {
  /** The agents the worker runs (default: the built-in ones). */
  agents?: AgentRegistry;
  /** The agent the API gives new conversations (default: concierge). */
  /** Which agent answers new conversations (default: AGENT_ROUTING, else concierge for all). */
  routing?: Routing;
}

/** `npm run dev` and `threadline dev` (which passes the agents of threadline.config.ts). */
export async function runDev(config: Config, options: DevOptions = {}): Promise<void> {
  // The SDK logs every worker state change at INFO; in a terminal only warnings are worth showing.
  Runtime.install({
    logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN'),
  });
  const say = (line: string) => console.log(line);
  const stops: Stop[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nStopping...');
    for (const { name, stop } of stops.reverse()) {
      process.stdout.write(`  ${name}...`);
      const started = Date.now();
      await stop().then(
        () => say(` done (${Date.now() - started} ms)`),
        (err: unknown) => say(` failed: ${(err as Error).message}`),
      );
    }
    say('Stopped. State is kept in ' + resolve(config.dataDir));
    process.exit(code);
  };
  let firstSignalAt = 0;
  process.on('SIGINT', () => {
    // One Ctrl-C can arrive more than once (a wrapper relaying the terminal's signal); only a
    // deliberate second press, a moment later, skips the orderly shutdown.
    if (stopping && Date.now() - firstSignalAt > 2_000) process.exit(130);
    if (!stopping) say('(Ctrl-C again to stop at once)');
    firstSignalAt ||= Date.now();
    void shutdown(0);
  });
  process.on('SIGTERM', () => void shutdown(0));

  try {
    const dataDir = resolve(config.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const log = createLogger(config.logLevel, 'dev');
    // Checked before anything starts: the production shape needs a PostgreSQL server for Temporal.
    if (config.temporal.shape === 'server' && !config.temporal.address && !config.database.url)
      throw new Error(SERVER_NEEDS_DATABASE);

    // One tracer provider for the API and the worker (OTEL_EXPORTER_OTLP_ENDPOINT; off when unset).
    const tracing = startTracing(config.telemetry, 'threadline');
    if (tracing) stops.push({ name: 'tracing', stop: () => tracing.shutdown() });

    // Postgres
    let databaseUrl = config.database.url;
    let poolSize = config.database.poolSize;
    let databaseNote = 'DATABASE_URL';
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir, port: config.database.embeddedPort });
      stops.push({ name: 'embedded Postgres', stop: () => pg.stop() });
      databaseUrl = pg.url;
      poolSize = 1; // PGlite is a single session: see store/embedded.ts
      databaseNote = `embedded PGlite, data in ${pg.dataDir}`;
    }
    const pool = createPool(databaseUrl, poolSize);
    stops.push({ name: 'database pool', stop: () => pool.end() });
    const migrated = await migrate(pool);

    // OpenAI, or the emulator
    let openaiBaseUrl = config.openai.baseUrl;
    let openaiNote: string;
    if (config.openai.apiKey || config.openai.baseUrl) {
      openaiNote = `${config.openai.baseUrl ?? 'https://api.openai.com/v1'} (model ${config.openai.model})`;
    } else {
      const emulator = await startEmulator({
        port: config.openai.emulatorPort,
        stateFile: resolve(dataDir, 'emulator-state.json'),
      });
      stops.push({ name: 'emulator', stop: () => emulator.close() });
      openaiBaseUrl = emulator.baseUrl;
      openaiNote = `the bundled emulator at ${emulator.baseUrl} (OPENAI_API_KEY is unset; set it to use OpenAI)`;
    }
    const openai = createOpenAIClient({ apiKey: config.openai.apiKey, baseUrl: openaiBaseUrl });

    // Temporal
    let temporalAddress = config.temporal.address;
    let uiUrl: string | undefined;
    let nativeConnection: NativeConnection;
    let client: Client;
    if (temporalAddress) {
      nativeConnection = await NativeConnection.connect({ address: temporalAddress });
      const connection = await Connection.connect({ address: temporalAddress });
      client = new Client({ connection, namespace: config.temporal.namespace });
      stops.push({
        name: 'Temporal connections',
        stop: () => Promise.all([connection.close(), nativeConnection.close()]),
      });
    } else if (config.temporal.shape === 'server') {
      // The production shape (THREADLINE_TEMPORAL=server): Temporal Server on PostgreSQL.
      if (!config.database.url) throw new Error(SERVER_NEEDS_DATABASE);
      const binaries = await resolveTemporalServer({ env: process.env, onProgress: say });
      say(
        `Starting Temporal Server ${TEMPORAL_SERVER_VERSION} on PostgreSQL, on :${config.temporal.devPort} ...`,
      );
      const server = await startTemporalServer({
        binaries,
        postgresUrl: config.database.url,
        port: config.temporal.devPort,
        namespace: config.temporal.namespace,
        logFile: resolve(dataDir, 'temporal-server.log'),
        // The same ports as last time: the cluster membership in the database is then its own.
        portsFile: resolve(dataDir, 'temporal-server-ports.json'),
        onProgress: say,
      });
      stops.push({ name: 'Temporal Server', stop: () => server.stop() });
      temporalAddress = server.address;
      nativeConnection = server.nativeConnection;
      client = server.client;
    } else {
      const cli = await resolveTemporalCli({
        explicitPath: config.temporal.cliPath,
        env: process.env,
        onProgress: say,
      });
      say(`Starting the Temporal dev server on :${config.temporal.devPort} ...`);
      const server = await startDevServer({
        cli,
        port: config.temporal.devPort,
        uiPort: config.temporal.devUiPort,
        dbFilename: resolve(dataDir, 'temporal.sqlite'),
        logFile: resolve(dataDir, 'temporal.log'),
        namespace: config.temporal.namespace,
      }).catch((err: unknown) => {
        throw new Error(
          `The Temporal dev server did not start (${(err as Error).message}). If port ${config.temporal.devPort} ` +
            `is taken by a running Temporal, set TEMPORAL_ADDRESS=localhost:${config.temporal.devPort} to reuse it, ` +
            `or set TEMPORAL_PORT and TEMPORAL_UI_PORT to free ports.`,
        );
      });
      stops.push({ name: 'Temporal dev server', stop: () => server.stop() });
      temporalAddress = server.address;
      uiUrl = server.uiUrl;
      nativeConnection = server.nativeConnection;
      client = server.client;
    }

    // Worker
    const agents = options.agents ?? defaultAgents(config.openai.model);
    const routing = options.routing ?? config.routing;
    const agent = routing.defaultAgent;
    const worker = await createWorker({
      connection: nativeConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      pool,
      openai,
      agents,
      routing,
      senders: buildSenders(config.channels, pool),
      media: {
        fetchers: buildMediaFetchers(config.channels),
        limits: config.media,
        transcriptionModel: config.media.transcriptionModel,
      },
      tuning: config.workerTuning,
      ...(tracing ? { tracing } : {}),
    });
    const workerDone = worker.run();
    stops.push({
      name: 'worker',
      stop: async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerDone;
      },
    });

    // API
    const devKey = await ensureDevApiKey(pool, dataDir);
    if (tracing) client = tracedClient(client);
    const apiOptions = appOptions(config);
    const app = createApp({
      ...apiOptions,
      client,
      pool,
      routing,
      log,
      pages: {
        ...apiOptions.pages,
        temporalUiUrl: apiOptions.pages.temporalUiUrl ?? uiUrl,
        devKey: { key: devKey.key, tenant: DEV_TENANT },
      },
    });
    const http = await listen(app, config.api.host, config.api.port, config.api.shutdownGraceMs);
    stops.push({ name: 'API', stop: () => http.stop() });

    say('');
    say('Threadline is running.');
    say(`  API            ${http.url}`);
    say(`  Web chat       ${http.url}/      Console ${http.url}/console`);
    say(`  Temporal       ${temporalAddress}${uiUrl ? `   Web UI ${uiUrl}` : ''}`);
    say(
      `  Postgres       ${databaseNote}${migrated.applied.length ? ` (applied ${migrated.applied.join(', ')})` : ''}`,
    );
    say(`  Model          ${openaiNote}`);
    say(
      `  Agents         ${agent} answers new conversations` +
        `${agents.size > 1 ? ` (also: ${[...agents.keys()].filter((n) => n !== agent).join(', ')})` : ''}`,
    );
    say(`  API key        ${devKey.key}   (tenant default, saved in ${devKey.file})`);
    say(`  API docs       ${http.url}/openapi.json`);
    say('');
    say('Try it:');
    say(
      `  curl -s -X POST '${http.url}/v1/conversations/web/demo-1/messages?wait=true' ` +
        `-H 'authorization: Bearer ${devKey.key}' ` +
        `-H 'content-type: application/json' -d '{"text":"Hello! What can you do?"}'`,
    );
    say('');
    say('Ctrl-C stops everything; the next start finds its data again.');

    workerDone.catch(async (err: unknown) => {
      console.error('The worker stopped:', err);
      await shutdown(1);
    });
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await shutdown(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  void runDev(config);
}
