import { checkSchedule, settle } from './check.js';
import { DEFAULT_FAULTS, schedulesFor, type FaultKind, type Schedule } from './generate.js';
import { runSchedule } from './run.js';
import type { ScheduleWorld } from './world.js';

export interface ScheduleFailure {
  index: number;
  schedule: Schedule;
  problems: string[];
}

export interface ScheduleOptions {
  seed: number;
  count: number;
  /** Schedules in flight at once, each on its own conversation. */
  concurrency: number;
  /** Run only this index of the seeded schedules (replaying a failure). */
  only?: number;
  /** Run only this group of `concurrency` schedules, restarted as in the whole run. */
  group?: number;
  /** Called with each failed schedule's label (to save its histories). */
  onFailure?: (label: string) => Promise<void>;
  faults?: readonly FaultKind[];
  /** Restarts the worker: a global event, struck in every other group while its schedules run. */
  restartWorker?: () => Promise<void>;
  settleMs?: number;
  log?: (line: string) => void;
}

export interface ScheduleReport {
  ran: number;
  failures: ScheduleFailure[];
  restarts: number;
  ms: number;
}

export async function runSchedules(world: ScheduleWorld, options: ScheduleOptions): Promise<ScheduleReport> {
  const started = Date.now();
  const all = schedulesFor(options.seed, options.count, options.faults ?? DEFAULT_FAULTS);
  const indexes =
    options.only !== undefined
      ? [options.only]
      : options.group !== undefined
        ? all
            .map((_, i) => i)
            .slice(options.group * options.concurrency, (options.group + 1) * options.concurrency)
        : all.map((_, i) => i);
  const failures: ScheduleFailure[] = [];
  let restarts = 0;
  // A replay of one schedule or one group restarts as its group of the whole run did.
  const firstGroup = Math.floor(indexes[0]! / options.concurrency);
  for (let g = 0; g * options.concurrency < indexes.length; g++) {
    const group = indexes.slice(g * options.concurrency, (g + 1) * options.concurrency);
    const at = firstGroup + g;
    const restart =
      options.restartWorker && at % 2 === 1
        ? (async () => {
            // Seeded, so a replay restarts at the same point of its group.
            await new Promise((r) => setTimeout(r, 200 + ((options.seed + at * 7_919) % 1_300)));
            await options.restartWorker!();
            restarts += 1;
          })()
        : Promise.resolve();
    const results = await Promise.all(
      group.map(async (index): Promise<ScheduleFailure & { ms: number }> => {
        const schedule = all[index]!;
        const label = `s${options.seed}-${index}-${started.toString(36)}`;
        const began = Date.now();
        try {
          const run = await runSchedule(world, schedule, label);
          await restart; // settle only after the group's restart, so it strikes while work is in flight
          const { outcomes, settled } = await settle(world.pool, run, options.settleMs ?? 45_000);
          const problems = await checkSchedule(world, run, outcomes);
          if (!settled) problems.unshift(`not settled within ${options.settleMs ?? 45_000} ms`);
          if (problems.length > 0) await options.onFailure?.(label);
          return { index, schedule, problems, ms: Date.now() - began };
        } catch (err) {
          return {
            index,
            schedule,
            problems: [`the schedule threw: ${(err as Error).stack ?? String(err)}`],
            ms: Date.now() - began,
          };
        }
      }),
    );
    await restart;
    for (const r of results) if (r.problems.length) failures.push(r);
    const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
    options.log?.(
      `group ${g + 1}: ${group.length} schedules, ${results.filter((r) => r.problems.length).length} failed, ` +
        `slowest ${slowest.index} in ${(slowest.ms / 1000).toFixed(1)} s`,
    );
  }
  return { ran: indexes.length, failures, restarts, ms: Date.now() - started };
}

/** How a failure prints: enough to replay it (`SCHEDULE_SEED=... SCHEDULE_INDEX=...`) and to read it. */
export function describeFailure(seed: number, f: ScheduleFailure): string {
  return [
    `schedule ${f.index} of seed ${seed} failed (replay: SCHEDULE_SEED=${seed} SCHEDULE_INDEX=${f.index}):`,
    ...f.problems.map((p) => `  - ${p}`),
    `  schedule: ${JSON.stringify(f.schedule)}`,
  ].join('\n');
}
