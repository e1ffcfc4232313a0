import { randomBytes } from 'node:crypto';
import { saveSourceKey } from '../../src/migration/sourceKeys.js';
import { DEFAULT_OPTIONS, type MigrationProgress } from '../../src/migration/types.js';
import { migrationWorkflowId } from '../../src/workflows/migrationMessages.js';
import { AGENTS } from '../lib/agents.js';
import { startRateLimitProxy } from '../lib/rateLimitProxy.js';
import { round } from '../lib/stats.js';
import type { Benchmark, BenchContext } from '../lib/types.js';

export interface MigrationRun {
  label: string;
  /** Requests per second allowed; null: no limit. */
  limit: number | null;
  /** The bucket: requests that may pass at once (seconds of the rate). */
  burstSeconds: number | null;
  threads: number;
  done: number;
  failed: number;
  seconds: number;
  threadsPerSecond: number;
  /** Requests that reached the emulator, per second. */
  requestsPerSecond: number;
  rejected: number;
  /** Requests served / requests the bucket allowed over the run (rate × seconds + its initial burst). */
  shareOfLimit: number | null;
  /**
   * The part of that share that moved threads: done threads × the requests one thread needs (from
   * the unlimited run). The rest was re-reading threads whose attempt a 429 cut short.
   */
  usefulShare: number | null;
  /** Requests that reached the emulator, in all. */
  served: number;
}

export interface MigrationResult {
  window: number;
  messagesPerThread: number;
  requestsPerThread: number;
  runs: MigrationRun[];
}

export const MIGRATION_THREADS = { full: 400, quick: 80 };
export const MIGRATION_LIMIT = 25;
const WINDOW = 25;
const STRICT_THREADS = 80;

/**
 * The same Assistants threads migrated twice (into two tenants, so the second run is not "already
 * migrated"): once straight to the emulator, for the engine's own ceiling here, and once through
 * a rate limit of 25 requests/s that the ceiling exceeds. The result is the share of the allowed
 * rate the engine keeps using while it is answered 429 with Retry-After.
 */
export const migrationThroughput: Benchmark<MigrationResult> = {
  name: 'migration',
  title: 'Migration throughput',
  async run(ctx) {
    const threads = ctx.quick ? MIGRATION_THREADS.quick : MIGRATION_THREADS.full;
    const free = await runOnce(ctx, 'no limit', null, 1, threads);
    const limited = await runOnce(ctx, `${MIGRATION_LIMIT} req/s, 1 s burst`, MIGRATION_LIMIT, 1, threads);
    // A tight bucket: the retries of a whole window come back in the same instant (Retry-After,
    // no jitter) and most are refused again, so units run out of attempts. Fewer threads: each
    // refused unit takes its whole retry budget.
    const strict = await runOnce(
      ctx,
      `${MIGRATION_LIMIT} req/s, 0.2 s burst`,
      MIGRATION_LIMIT,
      0.2,
      STRICT_THREADS,
    );
    const perThread = free.served / free.done;
    for (const run of [limited, strict]) {
      const allowedInRun = (run.limit ?? 0) * run.seconds + (run.limit ?? 0) * (run.burstSeconds ?? 0);
      run.usefulShare = round((run.done * perThread) / allowedInRun, 2);
    }
    return {
      window: WINDOW,
      messagesPerThread: 4,
      requestsPerThread: round(perThread, 2),
      runs: [free, limited, strict],
    };
  },
};

async function runOnce(
  { stack, log }: BenchContext,
  label: string,
  limit: number | null,
  burstSeconds: number,
  threads: number,
): Promise<MigrationRun> {
  const proxy = await startRateLimitProxy(stack.emulator.origin, limit ?? 1e9, burstSeconds);
  const threadIds = stack.fixture.threads.slice(0, threads).map((t) => t.id);
  try {
    const workflowId = migrationWorkflowId(`bench-${randomBytes(4).toString('hex')}`);
    // The proxy is another endpoint than the worker's: its key comes from Postgres, as the API keeps it.
    await saveSourceKey(stack.pool, workflowId, 'bench-source-key');
    const started = performance.now();
    const handle = await stack.client.workflow.start('migrationWorkflow', {
      workflowId,
      taskQueue: stack.taskQueue,
      args: [
        {
          source: { kind: 'assistants-api', baseUrl: proxy.baseUrl, threadIds },
          target: { tenant: `mig-${limit ?? 'free'}-${burstSeconds}`, channel: 'web', agent: AGENTS.plain },
          options: { ...DEFAULT_OPTIONS, window: WINDOW },
        },
      ],
    });
    const progress = (await handle.result()) as MigrationProgress;
    const seconds = (performance.now() - started) / 1000;
    const { allowed, limited } = proxy.stats();
    const requestsPerSecond = allowed / seconds;
    const run: MigrationRun = {
      label,
      limit,
      burstSeconds: limit === null ? null : burstSeconds,
      threads: progress.total ?? 0,
      done: progress.done,
      failed: progress.failed,
      seconds: round(seconds, 1),
      threadsPerSecond: round(progress.done / seconds, 1),
      requestsPerSecond: round(requestsPerSecond, 1),
      rejected: limited,
      shareOfLimit: limit ? round(allowed / (limit * seconds + proxy.capacity), 2) : null,
      usefulShare: null,
      served: allowed,
    };
    if (progress.failed > 0)
      log(
        `migration: ${progress.failed} failed, latest: ${JSON.stringify(progress.recentFailures.slice(-3))}`,
      );
    if (progress.total !== threads)
      log(`migration: the emulator listed ${progress.total} threads, expected ${threads}`);
    log(`migration: ${JSON.stringify(run)}`);
    return run;
  } finally {
    await proxy.close();
  }
}
