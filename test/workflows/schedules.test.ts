import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, startHarness, type Harness } from './harness.js';
import { describeFailure, runSchedules } from './schedules/runMany.js';
import { senderKey } from '../../src/channels/senders.js';
import {
  recordingSender,
  SCHEDULE_CHANNEL,
  SCHEDULE_TENANT,
  scheduleAgents,
  type ScheduleWorld,
} from './schedules/world.js';

/**
 * Randomized schedules (fast-check, seeded): interleaved signals and updates, the same id again by
 * either, bursts, close, reset, continue-as-new after 1-3 turns, 1 s idle timeouts, model faults and
 * worker restarts, many conversations at once on one worker. After each schedule the promises are
 * checked from Postgres and the channel's books. A failure prints its seed and index; replay it with
 * SCHEDULE_SEED=<seed> SCHEDULE_INDEX=<index>. SCHEDULE_COUNT runs more (the drill runs thousands).
 */
const seed = Number(process.env.SCHEDULE_SEED ?? 20_261_201);
const count = Number(process.env.SCHEDULE_COUNT ?? 120);
const only = process.env.SCHEDULE_INDEX !== undefined ? Number(process.env.SCHEDULE_INDEX) : undefined;

let h: Harness;
const { sender, sends } = recordingSender();
beforeAll(async () => {
  h = await startHarness({
    agents: scheduleAgents(MODEL),
    senders: new Map([[senderKey(SCHEDULE_TENANT, SCHEDULE_CHANNEL), sender]]),
  });
});
afterAll(async () => h?.close());

describe('randomized schedules', () => {
  it(
    `every accepted message is answered once, whatever the schedule (seed ${seed})`,
    { timeout: 240_000 },
    async () => {
      const world: ScheduleWorld = {
        client: h.client,
        taskQueue: h.taskQueue,
        pool: h.db.pool,
        faults: h.emulator.faults,
        sends,
      };
      const report = await runSchedules(world, {
        seed,
        count,
        concurrency: 40,
        ...(only !== undefined ? { only } : {}),
        restartWorker: () => h.restartWorker(),
        log: (line) => console.log(`[schedules] ${line}`),
      });
      console.log(
        `[schedules] seed ${seed}: ${report.ran} schedules, ${report.failures.length} failed, ` +
          `${report.restarts} worker restarts, ${(report.ms / 1000).toFixed(1)} s`,
      );
      for (const f of report.failures) console.log(describeFailure(seed, f));
      expect(report.failures.map((f) => `${f.index}: ${f.problems[0]}`)).toEqual([]);
      expect(report.ran).toBe(only !== undefined ? 1 : count);
    },
  );
});
