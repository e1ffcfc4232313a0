import { randomBytes } from 'node:crypto';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { createRegistry } from '../../src/agents/registry.js';
import type { AgentDefinition } from '../../src/agents/types.js';
import { startEmulator, type AssistantsFixture, type Emulator } from '../../src/emulator/server.js';
import {
  DEFAULT_OPTIONS,
  type MigrationOptions,
  type MigrationProgress,
  type SourceSpec,
  type TargetSpec,
} from '../../src/migration/types.js';
import type { migrationWorkflow } from '../../src/workflows/migration.js';
import { migrationWorkflowId } from '../../src/workflows/migrationMessages.js';
import {
  createTestDatabase,
  startTestWorker,
  testClient,
  uniqueTaskQueue,
  type RunningWorker,
  type TestDatabase,
} from '../support/env.js';
import { testAgent } from '../workflows/harness.js';

/** A migration environment for one test file: database, own emulator (faults stay local), worker. */
export interface MigrationEnv {
  db: TestDatabase;
  emulator: Emulator;
  client: Client;
  taskQueue: string;
  worker: RunningWorker | undefined;
  startWorker(): Promise<void>;
  start(
    source: SourceSpec,
    options?: Partial<MigrationOptions> & {
      target?: Partial<TargetSpec>;
      name?: string;
      workflowId?: string;
    },
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof migrationWorkflow>>;
  run(
    source: SourceSpec,
    options?: Partial<MigrationOptions> & { target?: Partial<TargetSpec>; name?: string },
  ): Promise<MigrationProgress>;
  itemCount(): Promise<number>;
  close(): Promise<void>;
}

export const AGENTS: AgentDefinition[] = [
  testAgent('assistant'),
  testAgent('keeper', { strategy: 'conversation' }),
  testAgent('plain', { strategy: 'stateless' }),
];

export async function startMigrationEnv(
  options: { fixture?: AssistantsFixture; worker?: boolean } = {},
): Promise<MigrationEnv> {
  const db = await createTestDatabase();
  const emulator = await startEmulator(options.fixture ? { assistantsFixture: options.fixture } : {});
  const taskQueue = uniqueTaskQueue('mig');
  const { client, close } = await testClient();
  const env: MigrationEnv = {
    db,
    emulator,
    client,
    taskQueue,
    worker: undefined,
    async startWorker() {
      env.worker = await startTestWorker({
        pool: db.pool,
        taskQueue,
        openaiBaseUrl: emulator.baseUrl,
        agents: createRegistry(AGENTS),
      });
    },
    async start(source, opts = {}) {
      const { target, name, workflowId, ...rest } = opts;
      return client.workflow.start('migrationWorkflow', {
        // A recorded history is replayed under its file name as the workflow id, and children's ids
        // derive from it: recorded migrations use that name.
        workflowId: workflowId ?? migrationWorkflowId(name ?? `test-${randomBytes(4).toString('hex')}`),
        taskQueue,
        args: [
          {
            source,
            target: { tenant: 'default', channel: 'web', agent: 'assistant', ...target },
            options: { ...DEFAULT_OPTIONS, ...rest },
          },
        ],
      });
    },
    async run(source, opts) {
      return (await env.start(source, opts)).result();
    },
    async itemCount() {
      const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM session_items');
      return Number(rows[0]!.n);
    },
    async close() {
      await env.worker?.stop();
      await close();
      await emulator.close();
      await db.drop();
    },
  };
  if (options.worker ?? true) await env.startWorker();
  return env;
}
