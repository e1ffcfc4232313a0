import type { DrillEnv } from './env.js';
import { schedulesDrill } from './schedules.js';
import { sleep, Traffic, type TrafficResult } from './traffic.js';

export interface DrillOutcome {
  traffic: TrafficResult;
  /** What the fault did, for the pass/fail line. */
  fault?: string;
  /** Checks of the fault itself (it must really have struck). */
  problems?: string[];
}

export interface Drill {
  name: string;
  summary: string;
  run(env: DrillEnv, log: (line: string) => void): Promise<DrillOutcome>;
}

const RESPONSES = '^/v1/responses$';

/** Waits for `test` to hold, polling; throws after `timeoutMs`. */
async function until(
  what: string,
  test: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const count = async (env: DrillEnv, sql: string): Promise<number> =>
  Number((await env.pool.query<{ n: string }>(sql)).rows[0]?.n ?? 0);

export const DRILLS: Drill[] = [
  {
    name: 'worker-kill-model',
    summary: 'kill -9 the worker while model calls are in flight; a new worker finishes the turns',
    async run(env, log) {
      await env.startWorker();
      // The first model calls hang for 6 s: long enough to kill the worker during them.
      const slow = env.emulator.faults.add({
        kind: 'latency',
        latencyMs: 6_000,
        times: 4,
        match: { path: RESPONSES },
      });
      const traffic = new Traffic(
        env,
        { conversations: 4, turns: 4, toolTurns: (t) => (t === 3 ? 200 : null) },
        'wkm',
      );
      await until(
        'model calls in flight',
        () => (env.emulator.faults.list().find((f) => f.id === slow.id)?.hits ?? 4) >= 2,
      );
      await sleep(500);
      const inFlight = env.emulator.faults.list().find((f) => f.id === slow.id)?.hits ?? 4;
      env.workers[0]!.kill();
      log(`killed the worker with ${inFlight} model call(s) in flight; starting another`);
      await env.startWorker();
      const result = await traffic.finished();
      const posts = env.emulator
        .requests()
        .filter((r) => r.path === '/v1/responses' && r.method === 'POST').length;
      return {
        traffic: result,
        fault: `worker killed with ${inFlight} model calls in flight, ${posts} model requests seen by the emulator`,
      };
    },
  },
  {
    name: 'worker-kill-tool',
    summary: 'kill -9 the worker while tool calls run; their retries must not apply the side effect again',
    async run(env, log) {
      await env.startWorker();
      const traffic = new Traffic(
        env,
        { conversations: 4, turns: 4, toolTurns: (t) => (t === 2 ? 4_000 : t === 4 ? 200 : null) },
        'wkt',
      );
      // A side effect applied and its tool call still running: the worker is inside the tool.
      await until(
        'tool calls in flight',
        async () => (await count(env, `SELECT count(*) AS n FROM tool_calls WHERE status = 'running'`)) >= 2,
      );
      await sleep(300);
      const running = await count(env, `SELECT count(*) AS n FROM tool_calls WHERE status = 'running'`);
      env.workers[0]!.kill();
      log(`killed the worker with ${running} tool call(s) running; starting another`);
      await env.startWorker();
      const result = await traffic.finished();
      const reExecuted = await count(
        env,
        'SELECT count(*) AS n FROM drill_side_effects WHERE executions > 1',
      );
      const problems =
        reExecuted === 0 ? ['no tool call was executed twice: the kill did not hit a tool call'] : [];
      return {
        traffic: result,
        fault: `worker killed with ${running} tool calls running, ${reExecuted} re-executed under their key`,
        problems,
      };
    },
  },
  {
    name: 'temporal-restart',
    summary: 'stop the Temporal dev server mid-traffic and start it again on the same port and SQLite file',
    async run(env, log) {
      await env.startWorker();
      env.emulator.faults.add({
        kind: 'latency',
        latencyMs: 300,
        times: -1,
        match: { path: RESPONSES },
      });
      const traffic = new Traffic(
        env,
        { conversations: 5, turns: 5, toolTurns: (t) => (t === 3 ? 200 : null) },
        'tr',
      );
      await traffic.whenAnswered(6);
      const stopped = Date.now();
      await env.infra.stopTemporal();
      log(`Temporal stopped after ${traffic.answered} answered turns`);
      await sleep(5_000);
      await env.infra.startTemporal();
      const down = Date.now() - stopped;
      log(`Temporal back after ${(down / 1000).toFixed(1)} s`);
      const result = await traffic.finished();
      return { traffic: result, fault: `Temporal down ${(down / 1000).toFixed(1)} s` };
    },
  },
  {
    name: 'postgres-outage',
    summary: 'stop PostgreSQL for 20 seconds mid-traffic, then start it again on the same data and port',
    async run(env, log) {
      await env.startWorker();
      env.emulator.faults.add({
        kind: 'latency',
        latencyMs: 300,
        times: -1,
        match: { path: RESPONSES },
      });
      const traffic = new Traffic(
        env,
        { conversations: 5, turns: 5, toolTurns: (t) => (t === 3 ? 200 : null) },
        'pg',
      );
      await traffic.whenAnswered(6);
      env.infra.postgres.pause();
      log(`PostgreSQL stopped after ${traffic.answered} answered turns`);
      await sleep(20_000);
      env.infra.postgres.resume();
      log('PostgreSQL started again');
      const result = await traffic.finished();
      return { traffic: result, fault: 'PostgreSQL down 20 s' };
    },
  },
  {
    name: 'rate-limit-storm',
    summary: '40 consecutive 429s with Retry-After from the model API mid-traffic',
    async run(env) {
      await env.startWorker();
      const traffic = new Traffic(
        env,
        { conversations: 5, turns: 5, toolTurns: (t) => (t === 3 ? 200 : null) },
        'rl',
      );
      await traffic.whenAnswered(5);
      const storm = env.emulator.faults.add({
        kind: 'rate_limit',
        retryAfterSeconds: 1,
        times: 40,
        match: { path: RESPONSES },
      });
      const result = await traffic.finished();
      const left = env.emulator.faults.list().find((f) => f.id === storm.id)?.remaining ?? 0;
      const statuses = env.emulator.requests().filter((r) => r.status === 429).length;
      const problems = left > 0 ? [`the storm did not blow out: ${left} of 40 429s unused`] : [];
      return { traffic: result, fault: `${statuses} model requests answered 429`, problems };
    },
  },
  {
    name: 'server-error-burst',
    summary: 'bursts of 500, 502 and 503 and dropped connections from the model API mid-traffic',
    async run(env) {
      await env.startWorker();
      const traffic = new Traffic(
        env,
        { conversations: 5, turns: 5, toolTurns: (t) => (t === 3 ? 200 : null) },
        'se',
      );
      await traffic.whenAnswered(5);
      const rules = [
        env.emulator.faults.add({ kind: 'server_error', status: 500, times: 8, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'server_error', status: 502, times: 8, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'drop_connection', times: 6, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'server_error', status: 503, times: 8, match: { path: RESPONSES } }),
      ];
      const result = await traffic.finished();
      const unused = env.emulator.faults
        .list()
        .filter((f) => rules.some((r) => r.id === f.id))
        .reduce((s, f) => s + f.remaining, 0);
      const journal = env.emulator.requests();
      const errors = journal.filter((r) => r.status >= 500).length;
      const dropped = journal.filter((r) => r.status === 0).length;
      const problems = unused > 0 ? [`the burst did not play out: ${unused} injected errors unused`] : [];
      return {
        traffic: result,
        fault: `${errors} model requests answered 5xx, ${dropped} connections dropped`,
        problems,
      };
    },
  },
  {
    name: 'state-expiry',
    summary:
      "OpenAI's stored responses expire mid-conversation; the runtime rebuilds the context from Postgres",
    async run(env, log) {
      await env.startWorker();
      env.emulator.faults.add({
        kind: 'latency',
        latencyMs: 100,
        times: -1,
        match: { path: RESPONSES },
      });
      const traffic = new Traffic(
        env,
        { conversations: 4, turns: 6, toolTurns: (t) => (t === 4 ? 200 : null) },
        'ex',
      );
      await traffic.whenAnswered(8);
      // Past the 30-day retention: every stored response, and so every conversation's pointer, is gone.
      env.emulator.clock.advance(31 * 24 * 3600 * 1000);
      log(`emulator clock advanced 31 days after ${traffic.answered} answered turns`);
      const result = await traffic.finished();
      const notFound = env.emulator
        .requests()
        .filter((r) => r.status === 400 && r.path === '/v1/responses').length;
      const recovered = await count(env, 'SELECT count(*) AS n FROM model_calls WHERE recovery IS NOT NULL');
      const problems = recovered === 0 ? ['no model call recovered from the expired state'] : [];
      return {
        traffic: result,
        fault: `${notFound} calls refused with previous_response_not_found, ${recovered} recovered`,
        problems,
      };
    },
  },
  schedulesDrill,
];
