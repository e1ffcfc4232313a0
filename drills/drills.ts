import { formatSnapshot, readSnapshot } from '../src/metrics/postgres.js';
import { DRILL_AGENTS, type DrillStrategy } from './agent.js';
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
  /** The agent the drill's API starts conversations with (default: the drill agent). */
  agent?: string;
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

/**
 * The traffic of every drill: 20 times the first drills' 16-25 messages. 60 conversations of 5
 * turns: wide rather than long (turns of one conversation run one after the other), so a full run
 * stays within minutes on two cores.
 */
const WIDE = { conversations: 60, turns: 5 } as const;
/** Faults strike after this many answered turns: a third of the way in. */
const STRIKE_AFTER = 100;

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
      const traffic = new Traffic(env, { ...WIDE, toolTurns: (t) => (t === 3 ? 200 : null) }, 'wkm');
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
        { ...WIDE, toolTurns: (t) => (t === 2 ? 4_000 : t === 4 ? 200 : null) },
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
      const traffic = new Traffic(env, { ...WIDE, toolTurns: (t) => (t === 3 ? 200 : null) }, 'tr');
      await traffic.whenAnswered(STRIKE_AFTER);
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
      const traffic = new Traffic(env, { ...WIDE, toolTurns: (t) => (t === 3 ? 200 : null) }, 'pg');
      await traffic.whenAnswered(STRIKE_AFTER);
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
    summary: '200 consecutive 429s with Retry-After from the model API mid-traffic',
    async run(env) {
      await env.startWorker();
      const traffic = new Traffic(env, { ...WIDE, toolTurns: (t) => (t === 3 ? 200 : null) }, 'rl');
      await traffic.whenAnswered(STRIKE_AFTER);
      const storm = env.emulator.faults.add({
        kind: 'rate_limit',
        retryAfterSeconds: 1,
        times: 200,
        match: { path: RESPONSES },
      });
      const result = await traffic.finished();
      const left = env.emulator.faults.list().find((f) => f.id === storm.id)?.remaining ?? 0;
      const statuses = env.emulator.requests().filter((r) => r.status === 429).length;
      const problems = left > 0 ? [`the storm did not blow out: ${left} of 200 429s unused`] : [];
      return { traffic: result, fault: `${statuses} model requests answered 429`, problems };
    },
  },
  {
    name: 'server-error-burst',
    summary: 'bursts of 500, 502 and 503 and dropped connections from the model API mid-traffic',
    async run(env) {
      await env.startWorker();
      const traffic = new Traffic(env, { ...WIDE, toolTurns: (t) => (t === 3 ? 200 : null) }, 'se');
      await traffic.whenAnswered(STRIKE_AFTER);
      const rules = [
        env.emulator.faults.add({ kind: 'server_error', status: 500, times: 40, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'server_error', status: 502, times: 40, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'drop_connection', times: 30, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'server_error', status: 503, times: 40, match: { path: RESPONSES } }),
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
      const traffic = new Traffic(env, { ...WIDE, toolTurns: (t) => (t === 4 ? 200 : null) }, 'ex');
      await traffic.whenAnswered(STRIKE_AFTER);
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
  {
    name: 'worker-kill-delivery',
    summary:
      'kill -9 the worker while replies are inside send (the provider has them, the ledger does not); retries resend once and count it',
    async run(env, log) {
      // The first worker's channel takes each message at once and answers 3 s later.
      await env.startWorker({ DRILL_SEND_DELAY_MS: '3000' });
      const traffic = new Traffic(env, { ...WIDE, toolTurns: (t) => (t === 3 ? 200 : null) }, 'wkd');
      const sending = () =>
        count(env, `SELECT count(*) AS n FROM deliveries WHERE status = 'sending' AND lease_until > now()`);
      await until('replies inside send', async () => (await sending()) >= 5);
      const inSend = await sending();
      env.workers[0]!.kill();
      log(`killed the worker with ${inSend} replies inside send; starting another (sends at once)`);
      await env.startWorker();
      const result = await traffic.finished();
      return { traffic: result, ...(await duplicateBooks(env, inSend, log)) };
    },
  },
  ...(['previous_response_id', 'conversation', 'stateless'] as DrillStrategy[]).map(lostAnswerDrill),
];

/**
 * The ledger's books on duplicates against the channel's: every send beyond the first of a turn
 * must be a possible duplicate the ledger counted (a retry after a claim ran out), at most one per
 * turn for one crash, and the metric must say the same.
 */
async function duplicateBooks(
  env: DrillEnv,
  crashWindows: number,
  log: (line: string) => void,
): Promise<{ fault: string; problems: string[] }> {
  const { rows } = await env.pool.query<{ key: string; sends: number; possible: number | null }>(
    `SELECT d.idempotency_key AS key, d.sends, l.possible_duplicates AS possible
       FROM drill_deliveries d LEFT JOIN deliveries l ON d.idempotency_key = l.conversation_id || '/' || l.turn`,
  );
  const problems: string[] = [];
  let resent = 0;
  let counted = 0;
  for (const r of rows) {
    const extra = r.sends - 1;
    resent += extra;
    counted += r.possible ?? 0;
    if (extra > (r.possible ?? 0))
      problems.push(`${r.key}: sent ${r.sends} times, ${r.possible ?? 0} counted`);
    if ((r.possible ?? 0) > 1) problems.push(`${r.key}: ${r.possible} possible duplicates for one crash`);
  }
  const ledgerTotal = await count(env, 'SELECT coalesce(sum(possible_duplicates), 0) AS n FROM deliveries');
  const metrics = formatSnapshot(await readSnapshot(env.pool));
  const metric = /threadline_delivery_possible_duplicates_total\{channel="drill"\} (\d+)/.exec(metrics)?.[1];
  if (Number(metric ?? -1) !== ledgerTotal)
    problems.push(`the metric says ${metric ?? 'nothing'}, the ledger ${ledgerTotal} possible duplicates`);
  if (resent === 0) problems.push('no reply was sent twice: the kill did not hit a send');
  if (counted > crashWindows)
    problems.push(`${counted} possible duplicates for ${crashWindows} replies inside send at the kill`);
  log(`channel saw ${resent} repeated sends; ledger and metric count ${counted} possible duplicates`);
  return {
    fault: `worker killed with ${crashWindows} replies inside send; ${resent} sent again, ${counted} counted as possible duplicates (metric ${metric})`,
    problems,
  };
}

/**
 * OpenAI applies a call and the answer is lost on the way back (a dropped connection, a proxy's
 * 502 or 504): the runtime retries a call the server already stored. Under `conversation` the
 * retry must not leave the OpenAI conversation with the turn's input twice.
 */
function lostAnswerDrill(strategy: DrillStrategy): Drill {
  const agent = DRILL_AGENTS[strategy];
  return {
    name: `lost-answer-${strategy.replace(/_/g, '-')}`,
    summary: `model answers lost after OpenAI applied the call (dropped, 502, 504), strategy ${strategy}`,
    agent,
    async run(env, log) {
      await env.startWorker();
      const traffic = new Traffic(
        env,
        { ...WIDE, toolTurns: (t) => (t === 3 ? 200 : null) },
        `la${strategy[0]}`,
      );
      await traffic.whenAnswered(STRIKE_AFTER);
      const rules = [
        env.emulator.faults.add({ kind: 'lose_answer', times: 10, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'lose_answer', status: 502, times: 10, match: { path: RESPONSES } }),
        env.emulator.faults.add({ kind: 'lose_answer', status: 504, times: 10, match: { path: RESPONSES } }),
      ];
      log(`30 lost answers armed after ${traffic.answered} answered turns`);
      const result = await traffic.finished();
      const unused = env.emulator.faults
        .list()
        .filter((f) => rules.some((r) => r.id === f.id))
        .reduce((n, f) => n + f.remaining, 0);
      const problems = unused > 0 ? [`${unused} of 30 lost answers unused`] : [];
      if (strategy === 'conversation') problems.push(...(await conversationDuplicates(env)));
      return {
        traffic: result,
        fault: `${30 - unused} model answers lost after the call was applied`,
        problems,
      };
    },
  };
}

/** User messages that an OpenAI conversation holds more than once (a retried call appended them again). */
async function conversationDuplicates(env: DrillEnv): Promise<string[]> {
  const { rows } = await env.pool.query<{ id: string; openai_conversation_id: string | null }>(
    'SELECT id, openai_conversation_id FROM conversations',
  );
  const problems: string[] = [];
  for (const row of rows) {
    if (!row.openai_conversation_id) {
      problems.push(`${row.id}: no OpenAI conversation`);
      continue;
    }
    const texts: string[] = [];
    let after: string | undefined;
    for (;;) {
      const url = new URL(`${env.emulator.baseUrl}/conversations/${row.openai_conversation_id}/items`);
      url.searchParams.set('limit', '100');
      url.searchParams.set('order', 'asc');
      if (after) url.searchParams.set('after', after);
      const page = (await (await fetch(url, { headers: { authorization: 'Bearer drill-key' } })).json()) as {
        data: { id: string; type: string; role?: string; content?: { text?: string }[] }[];
        has_more: boolean;
      };
      for (const item of page.data)
        if (item.type === 'message' && item.role === 'user')
          texts.push((item.content ?? []).map((c) => c.text ?? '').join(''));
      if (!page.has_more || page.data.length === 0) break;
      after = page.data.at(-1)!.id;
    }
    const seen = new Map<string, number>();
    for (const t of texts) seen.set(t, (seen.get(t) ?? 0) + 1);
    for (const [t, n] of seen)
      if (n > 1) problems.push(`${row.id}: the OpenAI conversation holds "${t.slice(0, 40)}" ${n} times`);
  }
  return problems;
}
