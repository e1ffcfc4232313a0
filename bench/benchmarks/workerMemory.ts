import { readFileSync } from 'node:fs';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { conversationWorkflow } from '../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { sendMessageUpdate } from '../../src/workflows/messages.js';
import { AGENTS } from '../lib/agents.js';
import { pool, round } from '../lib/stats.js';
import type { Benchmark } from '../lib/types.js';

export interface WorkerMemoryResult {
  conversations: number;
  /** RSS in MB of the worker process, idle before the first conversation, then at each step. */
  samples: { open: number; rssMb: number }[];
  peakRssMb: number;
  perConversationKb: number;
}

/** Resident set size and its peak, in MB, from /proc (Linux). */
export function rssOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: round(kb('VmRSS') / 1024, 1), hwmMb: round(kb('VmHWM') / 1024, 1) };
}

const settle = () => new Promise((r) => setTimeout(r, 3_000));

/**
 * A worker of its own (own process, own task queue, SDK default workflow cache) and 1,000
 * conversations opened on it, each answered once and then left open, waiting for its next message.
 */
export const workerMemory: Benchmark<WorkerMemoryResult> = {
  name: 'worker-memory',
  title: 'Worker memory',
  async run({ stack, quick, log }) {
    const total = quick ? 200 : 1_000;
    const taskQueue = 'bench-memory';
    const worker = await stack.startWorker(taskQueue);
    try {
      await settle();
      const samples = [{ open: 0, rssMb: rssOf(worker.pid).rssMb }];
      const step = total / 4;
      for (let from = 0; from < total; from += step) {
        await pool(
          Array.from({ length: step }, (_, i) => from + i),
          50,
          async (n) => {
            const input = { tenant: 'bench', channel: 'web', externalId: `memory-${n}`, agent: AGENTS.plain };
            await stack.client.workflow.executeUpdateWithStart(sendMessageUpdate, {
              args: [{ id: `memory-${n}`, text: `hello ${n}`, receivedAt: new Date().toISOString() }],
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
          },
        );
        await settle();
        samples.push({ open: from + step, rssMb: rssOf(worker.pid).rssMb });
        log(`worker-memory: ${from + step} open, RSS ${samples.at(-1)!.rssMb} MB`);
      }
      const peakRssMb = rssOf(worker.pid).hwmMb;
      const first = samples[1]!;
      const last = samples.at(-1)!;
      return {
        conversations: total,
        samples,
        peakRssMb,
        // From the first step on: the first conversations also pay for the sandbox and the bundle.
        perConversationKb: round(((last.rssMb - first.rssMb) * 1024) / (last.open - first.open), 1),
      };
    } finally {
      await worker.stop();
    }
  },
};
