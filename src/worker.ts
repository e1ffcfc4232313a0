import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundle,
} from '@temporalio/worker';
import type OpenAI from 'openai';
import { createActivities, type ActivityDeps } from './activities/index.js';
import { buildSenders } from './channels/senders.js';
import { defaultAgents, type AgentRegistry } from './agents/registry.js';
import { routingProblems, type Routing } from './agents/routing.js';
import { loadConfig, type Config } from './config.js';
import { buildMediaFetchers } from './media/fetchers.js';
import { DEFAULT_MEDIA_LIMITS, type MediaLimits } from './media/limits.js';
import type { MediaFetcher } from './media/graph.js';
import { createPostgresMediaStore } from './media/postgresStore.js';
import { openaiTranscriber } from './media/transcribe.js';
import { temporalConnectionOptions } from './temporal/connection.js';
import { checkSearchAttributes } from './temporal/searchAttributesCheck.js';
import { createLogger } from './logger.js';
import { createOpenAIClient } from './openaiClient.js';
import { migrate } from './store/migrate.js';
import { createPool, type Pool } from './store/pool.js';
import { WORKFLOW_INTERCEPTORS_PATH, workerTracing } from './telemetry/temporal.js';
import { startTracing, type Tracing } from './telemetry/tracing.js';

// Beside this file: workflows/index.ts when run from src/ with tsx, workflows/index.js in the
// compiled package (dist/), so an installed package bundles its own compiled workflows.
export const WORKFLOWS_PATH = fileURLToPath(
  new URL(`./workflows/index${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  pool: Pool;
  openai: OpenAI;
  agents: AgentRegistry;
  /** Checked at start-up: every agent it names must be in `agents`. */
  routing?: Routing;
  senders?: ActivityDeps['senders'];
  /** A pre-built bundle (tests build one per run); otherwise the worker bundles src/workflows. */
  workflowBundle?: WorkflowBundle;
  tuning?: Config['workerTuning'];
  /** How long in-flight tasks may drain after shutdown before activities are cancelled (SDK default 0). */
  shutdownGraceTimeMs?: number;
  /** Traces workflows and activities (a pre-built bundle must then be built with `tracing: true`). */
  tracing?: Tracing;
  /** Inbound media: downloaders by sender key, limits and transcription model (defaults: none, src/media/limits.ts). */
  media?: { fetchers: ReadonlyMap<string, MediaFetcher>; limits?: MediaLimits; transcriptionModel?: string };
  /** Stream model calls to API subscribers (default on). */
  streamModel?: boolean;
}

export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  const problems = deps.routing ? routingProblems(deps.routing, deps.agents.keys()) : [];
  if (problems.length) throw new Error(`Invalid agent routing: ${problems.join('; ')}`);
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    workflowBundle: deps.workflowBundle ?? (await bundleWorkflows({ tracing: Boolean(deps.tracing) })),
    ...(deps.tracing ? workerTracing(deps.tracing) : {}),
    // Unset knobs keep the SDK's defaults, which size themselves to the machine (docs/deploy.md).
    ...definedOnly({
      shutdownGraceTime: deps.shutdownGraceTimeMs,
      maxCachedWorkflows: deps.tuning?.maxCachedWorkflows,
      maxConcurrentActivityTaskExecutions: deps.tuning?.maxConcurrentActivityTaskExecutions,
      maxConcurrentWorkflowTaskExecutions: deps.tuning?.maxConcurrentWorkflowTaskExecutions,
      maxConcurrentWorkflowTaskPolls: deps.tuning?.maxConcurrentWorkflowTaskPolls,
      nonStickyToStickyPollRatio: deps.tuning?.nonStickyToStickyPollRatio,
    }),
    activities: createActivities({
      pool: deps.pool,
      openai: deps.openai,
      agents: deps.agents,
      ...(deps.senders ? { senders: deps.senders } : {}),
      media: {
        store: createPostgresMediaStore(deps.pool),
        fetchers: deps.media?.fetchers ?? new Map(),
        limits: deps.media?.limits ?? DEFAULT_MEDIA_LIMITS,
        transcribe: openaiTranscriber(
          deps.openai,
          deps.media?.transcriptionModel ?? 'gpt-4o-mini-transcribe',
        ),
      },
      ...(deps.streamModel === false ? { stream: false } : {}),
    }),
  });
}

/**
 * Bundles src/workflows for the sandbox, printing only warnings (webpack's module list is noise).
 * With `tracing`, the workflow interceptors that make workflow spans are in it; either bundle
 * replays the other's histories (test/telemetry/replay.test.ts).
 */
export async function bundleWorkflows(options: { tracing?: boolean } = {}): Promise<WorkflowBundle> {
  const quiet = () => {};
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...(options.tracing ? { workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_PATH] } : {}),
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
}

/**
 * `npm run worker` (and `threadline worker`): a worker against an existing Temporal server and
 * PostgreSQL (production shape), running the given agents (default: the built-in ones).
 */
export async function runWorker(config: Config, agents?: AgentRegistry, routing?: Routing): Promise<void> {
  const log = createLogger(config.logLevel, 'worker');
  if (config.workerMetricsAddress) {
    // The SDK's own Prometheus exporter: activity attempts and failures by activity type
    // (callModel failures are model call errors), task latencies, worker slots.
    Runtime.install({
      telemetryOptions: { metrics: { prometheus: { bindAddress: config.workerMetricsAddress } } },
    });
  }
  if (!config.database.url)
    throw new Error('DATABASE_URL is required for a standalone worker (npm run dev embeds one).');
  const pool = createPool(config.database.url, config.database.poolSize);
  await migrate(pool);
  const tracing = startTracing(config.telemetry, 'threadline-worker');
  const address = config.temporal.address ?? 'localhost:7233';
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  await checkSearchAttributes(connection, config.temporal.namespace);
  const worker = await createWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    pool,
    openai: createOpenAIClient(config.openai),
    agents: agents ?? defaultAgents(config.openai.model),
    routing: routing ?? config.routing,
    senders: buildSenders(config.channels, pool),
    media: {
      fetchers: buildMediaFetchers(config.channels),
      limits: config.media,
      transcriptionModel: config.media.transcriptionModel,
    },
    tuning: config.workerTuning,
    shutdownGraceTimeMs: config.workerShutdownGraceMs,
    ...(tracing ? { tracing } : {}),
  });
  log.info({ address, taskQueue: config.temporal.taskQueue }, 'worker started');
  // Worker.run() resolves after SIGINT/SIGTERM, once in-flight tasks have drained.
  await worker.run();
  await connection.close();
  await pool.end();
  await tracing?.shutdown();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runWorker(loadConfig(process.env)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

function definedOnly<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
