import proto from '@temporalio/proto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createRegistry } from '../src/agents/registry.js';
import { createOpenAIClient } from '../src/openaiClient.js';
import { createWorker } from '../src/worker.js';
import { describeFailure, runSchedules } from '../test/workflows/schedules/runMany.js';
import { senderKey } from '../src/channels/senders.js';
import {
  recordingSender,
  SCHEDULE_CHANNEL,
  SCHEDULE_TENANT,
  scheduleAgents,
} from '../test/workflows/schedules/world.js';
import type { Drill } from './drills.js';

/**
 * The randomized schedules of test/workflows/schedules.test.ts, by the thousand: 2,000 by default
 * (SCHEDULE_COUNT), a fresh seed each run (SCHEDULE_SEED to replay one, SCHEDULE_INDEX for one
 * schedule of it). groups of 40 concurrent schedules on one in-process worker, restarted early in
 * every other group while its turns are in flight.
 */
export const schedulesDrill: Drill = {
  name: 'schedules',
  summary:
    'thousands of randomized lifecycle schedules, each checked from Postgres; worker restarts between groups',
  async run(env, log) {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // Installed already by an earlier drill in this process.
    }
    const seed = Number(process.env.SCHEDULE_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const count = Number(process.env.SCHEDULE_COUNT ?? 2_000);
    const only = process.env.SCHEDULE_INDEX !== undefined ? Number(process.env.SCHEDULE_INDEX) : undefined;
    const { sender, sends } = recordingSender();
    const code = readFileSync(env.infra.bundlePath, 'utf8');
    const startWorker = async () => {
      const connection = await NativeConnection.connect({ address: env.infra.temporalAddress });
      const worker = await createWorker({
        connection,
        namespace: 'default',
        taskQueue: env.taskQueue,
        pool: env.pool,
        openai: createOpenAIClient({ apiKey: 'drill-key', baseUrl: env.emulator.baseUrl }),
        agents: createRegistry(scheduleAgents('gpt-5-mini')),
        senders: new Map([[senderKey(SCHEDULE_TENANT, SCHEDULE_CHANNEL), sender]]),
        workflowBundle: { code },
      });
      const running = worker.run();
      return async () => {
        worker.shutdown();
        await running;
        await connection.close();
      };
    };
    let stopWorker = await startWorker();
    const connection = await Connection.connect({ address: env.infra.temporalAddress });
    const client = new Client({ connection, namespace: 'default' });
    log(`seed ${seed}: ${only !== undefined ? `schedule ${only}` : `${count} schedules`}`);
    try {
      const report = await runSchedules(
        { client, taskQueue: env.taskQueue, pool: env.pool, faults: env.emulator.faults, sends },
        {
          seed,
          count,
          concurrency: 40,
          // The drill's Temporal is file-backed and slower; a restart can hold a turn for a timeout.
          settleMs: 120_000,
          ...(only !== undefined ? { only } : {}),
          ...(process.env.SCHEDULE_GROUP !== undefined ? { group: Number(process.env.SCHEDULE_GROUP) } : {}),
          // SCHEDULE_HISTORIES=<dir>: a failed schedule's conversation history, for a replay test.
          ...(process.env.SCHEDULE_HISTORIES
            ? {
                // Every run of the conversation, oldest first: <label>.json is the last, <label>.run<n>.json the others.
                onFailure: async (label: string) => {
                  const workflowId = `conversation:default:sched:${label}`;
                  const runIds: string[] = [];
                  for await (const wf of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
                    runIds.push(wf.runId);
                  runIds.reverse();
                  if (runIds.length === 0) runIds.push('');
                  for (const [n, runId] of runIds.entries()) {
                    const handle = client.workflow.getHandle(workflowId, runId || undefined);
                    const history = await handle.fetchHistory().catch(() => undefined);
                    if (!history) continue;
                    const encoded = Buffer.from(
                      proto.temporal.api.history.v1.History.encode(history).finish(),
                    );
                    const name = n === runIds.length - 1 ? label : `${label}.run${n + 1}`;
                    writeFileSync(
                      `${process.env.SCHEDULE_HISTORIES}/${name}.json`,
                      JSON.stringify({ workflowId, runId, history: encoded.toString('base64') }),
                    );
                  }
                },
              }
            : {}),
          restartWorker: async () => {
            await stopWorker();
            stopWorker = await startWorker();
          },
          log,
        },
      );
      return {
        traffic: { messages: [], retriedRequests: 0 },
        fault:
          `${report.ran} schedules (seed ${seed}) in ${(report.ms / 1000).toFixed(1)} s, ` +
          `${report.restarts} worker restarts, ${report.failures.length} failed`,
        problems: report.failures.map((f) => describeFailure(seed, f)),
      };
    } finally {
      await stopWorker();
      // An update a schedule left hanging may still retry on it: drills/lateErrors.ts absorbs that.
      await connection.close();
    }
  },
};
