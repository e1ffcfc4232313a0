import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { conversationWorkflow } from '../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { sendMessageUpdate } from '../../src/workflows/messages.js';
import { AGENTS } from '../lib/agents.js';
import { loadConfig } from '../../src/config.js';
import { percentiles, pool, round, timed, type Percentiles } from '../lib/stats.js';
import type { Benchmark } from '../lib/types.js';

export interface WorkerMemoryResult {
  conversations: number;
  /** RSS in MB of the worker process, idle before the first conversation, then at each step. */
  samples: { open: number; rssMb: number }[];
  peakRssMb: number;
  perConversationKb: number;
  /** The worker's workflow cache size (WORKER_MAX_CACHED_WORKFLOWS); undefined: the SDK's default. */
  maxCachedWorkflows?: number;
  /**
   * A next message to the conversations opened first (out of the cache when it is smaller than the
   * number open: the worker replays their history) and to the ones opened last (in the cache).
   */
  nextTurn?: { samples: number; oldest: Percentiles; newest: Percentiles };
}

/** Resident set size and its peak, in MB, from /proc (Linux). */
export function rssOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: round(kb('VmRSS') / 1024, 1), hwmMb: round(kb('VmHWM') / 1024, 1) };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `npm run build` (incremental: quick when dist/ is current). */
async function build(log: (line: string) => void): Promise<void> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'scripts/build.ts')],
      { cwd: ROOT },
      (err, _out, stderr) =>
        err ? reject(new Error(`npm run build failed: ${stderr || err.message}`)) : resolve(),
    );
  });
  log(`worker-memory: dist/ built in ${round((performance.now() - started) / 1000, 1)} s`);
}

const settle = () => new Promise((r) => setTimeout(r, 3_000));

/**
 * A worker of its own (own process running the compiled package, own task queue, tuned as the
 * config says) and 1,000
 * conversations opened on it, each answered once and then left open, waiting for its next message;
 * then a next message to the oldest and the newest of them (evicted from the cache or not).
 */
export const workerMemory: Benchmark<WorkerMemoryResult> = {
  name: 'worker-memory',
  title: 'Worker memory',
  async run({ stack, quick, sizes, log }) {
    const total = sizes?.memory ?? (quick ? 200 : 1_000);
    const taskQueue = 'bench-memory';
    // As deployed: the compiled package under plain Node (built first, incrementally).
    await build(log);
    const worker = await stack.startWorker(taskQueue, { compiled: true });
    const send = (n: number, turn: number) => {
      const input = { tenant: 'bench', channel: 'web', externalId: `memory-${n}`, agent: AGENTS.plain };
      return stack.client.workflow.executeUpdateWithStart(sendMessageUpdate, {
        args: [{ id: `memory-${n}-${turn}`, text: `hello ${n}`, receivedAt: new Date().toISOString() }],
        startWorkflowOperation: new WithStartWorkflowOperation<typeof conversationWorkflow>(
          'conversationWorkflow',
          {
            workflowId: conversationWorkflowId(input),
            taskQueue,
            args: [input],
            workflowIdConflictPolicy: 'USE_EXISTING',
          },
        ),
      });
    };
    try {
      await settle();
      const samples = [{ open: 0, rssMb: rssOf(worker.pid).rssMb }];
      const step = total / 4;
      for (let from = 0; from < total; from += step) {
        await pool(
          Array.from({ length: step }, (_, i) => from + i),
          50,
          (n) => send(n, 1),
        );
        await settle();
        samples.push({ open: from + step, rssMb: rssOf(worker.pid).rssMb });
        log(`worker-memory: ${from + step} open, RSS ${samples.at(-1)!.rssMb} MB`);
      }
      const peakRssMb = rssOf(worker.pid).hwmMb;
      // One at a time, alternating, so both sides see the same machine.
      const k = quick ? 10 : 30;
      const oldest: number[] = [];
      const newest: number[] = [];
      for (let i = 0; i < k; i++) {
        oldest.push((await timed(() => send(i, 2))).ms);
        newest.push((await timed(() => send(total - 1 - i, 2))).ms);
      }
      const first = samples[1]!;
      const last = samples.at(-1)!;
      return {
        conversations: total,
        samples,
        peakRssMb,
        // From the first step on: the first conversations also pay for the sandbox and the bundle.
        perConversationKb: round(((last.rssMb - first.rssMb) * 1024) / (last.open - first.open), 1),
        maxCachedWorkflows: loadConfig(process.env).workerTuning.maxCachedWorkflows,
        nextTurn: { samples: k, oldest: percentiles(oldest), newest: percentiles(newest) },
      };
    } finally {
      await worker.stop();
    }
  },
};
