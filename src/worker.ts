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
import { loadConfig, type Config } from './config.js';
import { temporalConnectionOptions } from './temporal/connection.js';
import { createLogger } from './logger.js';
import { createOpenAIClient } from './openaiClient.js';
import { migrate } from './store/migrate.js';
import { createPool, type Pool } from './store/pool.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  pool: Pool;
  openai: OpenAI;
  agents: AgentRegistry;
  senders?: ActivityDeps['senders'];
  /** A pre-built bundle (tests build one per run); otherwise the worker bundles src/workflows. */
  workflowBundle?: WorkflowBundle;
  tuning?: Config['workerTuning'];
  /** How long in-flight tasks may drain after shutdown before activities are cancelled (SDK default 0). */
  shutdownGraceTimeMs?: number;
  /** Stream model calls to API subscribers (default on). */
  streamModel?: boolean;
}

export async function createWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    workflowBundle: deps.workflowBundle ?? (await bundleWorkflows()),
    // Unset knobs keep the SDK's defaults, which size themselves to the machine (docs/deploy.md).
    ...definedOnly({
      shutdownGraceTime: deps.shutdownGraceTimeMs,
      maxCachedWorkflows: deps.tuning?.maxCachedWorkflows,
      maxConcurrentActivityTaskExecutions: deps.tuning?.maxConcurrentActivityTaskExecutions,
      maxConcurrentWorkflowTaskExecutions: deps.tuning?.maxConcurrentWorkflowTaskExecutions,
    }),
    activities: createActivities({
      pool: deps.pool,
      openai: deps.openai,
      agents: deps.agents,
      ...(deps.senders ? { senders: deps.senders } : {}),
      ...(deps.streamModel === false ? { stream: false } : {}),
    }),
  });
}

/** Bundles src/workflows for the sandbox, printing only warnings (webpack's module list is noise). */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  const quiet = () => {};
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
}

/** `npm run worker`: a worker against an existing Temporal server and PostgreSQL (production shape). */
async function main(config: Config): Promise<void> {
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
  const address = config.temporal.address ?? 'localhost:7233';
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const worker = await createWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    pool,
    openai: createOpenAIClient(config.openai),
    agents: defaultAgents(config.openai.model),
    senders: buildSenders(config.channels),
    tuning: config.workerTuning,
    shutdownGraceTimeMs: config.workerShutdownGraceMs,
  });
  log.info({ address, taskQueue: config.temporal.taskQueue }, 'worker started');
  // Worker.run() resolves after SIGINT/SIGTERM, once in-flight tasks have drained.
  await worker.run();
  await connection.close();
  await pool.end();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(loadConfig(process.env)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

function definedOnly<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
