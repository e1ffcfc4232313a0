import type { HistoryResult } from './benchmarks/history.js';
import type { InputBytesResult } from './benchmarks/inputBytes.js';
import type { MigrationResult } from './benchmarks/migration.js';
import type { SessionResult } from './benchmarks/session.js';
import type { ThroughputResult } from './benchmarks/throughput.js';
import type { TurnOverheadResult } from './benchmarks/turnOverhead.js';
import type { WorkerMemoryResult } from './benchmarks/workerMemory.js';
import type { StreamingResult } from './streaming.js';
import { cpuCeiling, targetRows, verdict } from './targets.js';
import { renderChart, type Panel } from './lib/svg.js';

/** What `npm run bench` writes to bench/results/latest.json; docs/benchmarks.md is made from it. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
  postgres?: string;
  /** Which Temporal the stack ran: the dev server, or Temporal Server on PostgreSQL. */
  temporal?: string;
}

export interface Entry<R> {
  measuredAt: string;
  quick: boolean;
  seconds: number;
  /** 1-minute load average before and after: other work on the machine. */
  load: [number, number];
  result?: R;
  error?: string;
  /** CPU seconds by role while it ran (bench/lib/stack.ts cpuSeconds). */
  cpu?: Record<string, number>;
}

export interface Results {
  machine: Machine;
  updatedAt: string;
  benchmarks: {
    'turn-overhead'?: Entry<TurnOverheadResult>;
    throughput?: Entry<ThroughputResult>;
    history?: Entry<HistoryResult>;
    'input-bytes'?: Entry<InputBytesResult>;
    session?: Entry<SessionResult>;
    'worker-memory'?: Entry<WorkerMemoryResult>;
    streaming?: Entry<StreamingResult>;
    migration?: Entry<MigrationResult>;
  };
}

const kb = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / 1024 ** 2).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
const ms = (x: number) =>
  x < 0.1
    ? `${(x * 1000).toFixed(1)} µs`
    : x < 10
      ? `${x.toFixed(2)} ms`
      : x < 1000
        ? `${x.toFixed(1)} ms`
        : `${(x / 1000).toFixed(2)} s`;
const n = (x: number) => x.toLocaleString('en-US');
const round1 = (x: number) => x.toFixed(1);

export function chart(r: Results): string {
  const b = r.benchmarks;
  const panels: Panel[] = [];
  const t = b['turn-overhead']?.result;
  if (t) {
    panels.push({
      title: 'Turn with one tool call, p50 / p95 (ms)',
      note: `API ${t.ratios.apiToDirect.p50}× direct, ${t.ratios.apiToFloor.p50}× the Temporal floor at p50`,
      bars: (['p50', 'p95'] as const).flatMap((p) => [
        { label: `Threadline API ${p}`, value: t.api[p], text: ms(t.api[p]), tone: 0 as const },
        { label: `direct SDK ${p}`, value: t.direct[p], text: ms(t.direct[p]), tone: 1 as const },
        { label: `Temporal floor ${p}`, value: t.floor[p], text: ms(t.floor[p]), tone: 2 as const },
      ]),
    });
  }
  const tp = b.throughput?.result;
  if (tp) {
    panels.push({
      title: 'Throughput (turns/s) and p95 latency',
      note: `lost ${tp.runs.reduce((a, x) => a + x.lost, 0)}, duplicated ${tp.runs.reduce((a, x) => a + x.duplicated, 0)}`,
      bars: tp.runs.flatMap((x) => [
        {
          label: `${n(x.conversations)} conversations`,
          value: x.turnsPerSecond,
          text: `${x.turnsPerSecond} turns/s`,
        },
        { label: `  p95 latency`, value: 0, text: ms(x.latency.p95), tone: 1 as const },
      ]),
    });
  }
  const h = b.history?.result;
  if (h) {
    panels.push({
      title: 'History bytes per turn',
      note: 'Threadline (measured) vs the transcript passed through each model call (computed)',
      bars: h.points.flatMap((p) => [
        { label: `turn ${p.turn}: Threadline`, value: p.bytes, text: kb(p.bytes), tone: 0 as const },
        {
          label: `turn ${p.turn}: pass-through`,
          value: p.peerBytes,
          text: kb(p.peerBytes),
          tone: 1 as const,
        },
      ]),
    });
  }
  const ib = b['input-bytes']?.result;
  if (ib) {
    panels.push({
      title: `Bytes sent to the model at turn ${ib.turn}`,
      note: `~${n(ib.messageChars)}-character messages; recovery bounded by ${n(ib.historyTokenBudget)} tokens`,
      bars: ib.cases.map((c, i) => ({
        label: c.name,
        value: c.bytes,
        text: kb(c.bytes),
        tone: (i === 0 ? 0 : i === 1 ? 1 : 2) as 0 | 1 | 2,
      })),
    });
  }
  const s = b.session?.result;
  if (s) {
    panels.push({
      title: 'Session store p50',
      note: `${n(s.sizes.items)} items in the session`,
      bars: s.operations.map((o) => ({
        label: o.name
          .replace('PostgresSession', 'Postgres')
          .replace('MemorySession', 'Memory')
          .replace(', 8 concurrent writers', ' ×8'),
        value: o.p50,
        text: ms(o.p50),
        tone: o.name.startsWith('Memory') ? (1 as const) : (0 as const),
      })),
    });
  }
  const m = b['worker-memory']?.result;
  if (m) {
    panels.push({
      title: 'Worker RSS by open conversations (MB)',
      note: `~${m.perConversationKb} KB per open conversation`,
      bars: m.samples.map((x) => ({ label: `${n(x.open)} open`, value: x.rssMb, text: `${x.rssMb} MB` })),
    });
  }
  const mg = b.migration?.result;
  if (mg) {
    panels.push({
      title: 'Migration: requests/s reaching the API',
      note: 'served, against the limit the proxy allows; threads that ran out of retries in brackets',
      bars: mg.runs.flatMap((x) => [
        {
          label: x.label,
          value: x.requestsPerSecond,
          text: `${x.requestsPerSecond} req/s, ${x.threadsPerSecond} threads/s (${x.failed} failed)`,
        },
        ...(x.limit
          ? [{ label: 'allowed', value: x.limit, text: `${x.limit} req/s`, tone: 1 as const }]
          : []),
      ]),
    });
  }
  return renderChart(
    'Threadline benchmarks',
    `${r.machine.cpus} cores, ${r.machine.memoryGb} GB, Node ${r.machine.node}; ${r.updatedAt.slice(0, 16).replace('T', ' ')} UTC`,
    panels,
  );
}

function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

function meta(e: Entry<unknown>): string {
  return `_Measured ${e.measuredAt.slice(0, 16).replace('T', ' ')} UTC${e.quick ? ' with `--quick` sizes' : ''}, in ${e.seconds} s; load average ${e.load[0]} before, ${e.load[1]} after._`;
}

/** The line after which docs/benchmarks.md is written by hand; a regeneration keeps what follows it. */
export const HAND_WRITTEN = '<!-- Written by hand below this line: `npm run bench` keeps it as it is. -->';

/** The generated page followed by the hand-written tail of the page it replaces (measurements no bench run repeats). */
export function withHandWritten(generated: string, previous: string | undefined): string {
  const at = previous?.indexOf(HAND_WRITTEN) ?? -1;
  const tail = at < 0 ? `${HAND_WRITTEN}\n` : previous!.slice(at);
  return `${generated.trimEnd()}\n\n${tail}`;
}

export function markdown(r: Results, server?: Results): string {
  const b = r.benchmarks;
  const out: string[] = [];
  out.push(
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` (bench/report.ts) from bench/results/latest.json: edit those, not this file. -->',
    '',
    'Every benchmark runs on one real stack that `npm run bench` starts itself: a Temporal dev server (in memory), a ' +
      'throwaway PostgreSQL cluster (`fsync` off, like the tests), the OpenAI emulator with no added latency, a ' +
      'Threadline worker in its own process and the API in the runner process. Each result is a **ratio measured side ' +
      'by side in the same run**: absolute times on this machine are noisy, the ratios much less so.',
    '',
    `**Machine**: ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGb} GB memory, Node ${r.machine.node}, ${r.machine.platform}` +
      `${r.machine.postgres ? `, PostgreSQL ${r.machine.postgres}` : ''}. This is a shared development container: other engineers ` +
      'run test suites on it at the same time, so expect run-to-run noise of tens of percent on absolute numbers; the load ' +
      'average before and after each benchmark is recorded below it.',
    '',
    '![Benchmarks](../bench/results/latest.svg)',
    '',
    '## Rerun',
    '',
    '```sh',
    'npm run bench                          # everything, about 15 minutes on 2 cores',
    'npm run bench -- --quick               # smaller sizes, a few minutes',
    'npm run bench -- --only throughput     # one benchmark (comma-separate several); others keep their last numbers',
    'npm run bench:session                  # the session-store benchmark alone, printed as a table',
    'npm run bench -- --report              # only rewrite this page and the chart from latest.json',
    '```',
    '',
    'Names: `turn-overhead`, `throughput`, `history`, `input-bytes`, `session`, `worker-memory`, `streaming`, `migration`. ' +
      'Worker tuning comes from the same `WORKER_*` variables as a deployed worker (src/config.ts), so ' +
      '`WORKER_MAX_CACHED_WORKFLOWS=2000 npm run bench -- --only worker-memory` measures another setting. Results go to ' +
      '`bench/results/latest.json` and `bench/results/latest.svg`, and this page is regenerated from them. It needs what ' +
      '`npm test` needs (PostgreSQL server binaries and a Temporal CLI).',
  );

  out.push('', ...targetsSection(r));

  const t = b['turn-overhead'];
  out.push('', '## Turn overhead', '');
  if (t?.result) {
    const x = t.result;
    out.push(
      'One synchronous turn with one tool call (`call get_weather`): two model calls and one tool run. Three ways, ' +
        'interleaved sample by sample: **Threadline** (`POST …/messages?wait=true` through the API: update-with-start, ' +
        'the workflow, `beginTurn` (the input recorded, the first model call), `runTool`, `modelStep` (the second ' +
        'model call, the turn finished, the reply sent), Postgres throughout), **direct** (the same two `responses.create` calls and the tool, with the `openai` SDK against the same ' +
        'emulator: no Temporal, no Postgres), and **the Temporal floor** (`bench/floor/`: a workflow that runs one no-op ' +
        `activity, started and awaited on the same server). ${n(x.samples)} samples each, over ${x.conversations} ` +
        'conversations that already exist (their first turn, which also starts the workflow, is warm-up).',
      '',
      table(
        ['Path', 'p50', 'p95', 'p99', 'mean'],
        [
          ['Threadline API turn', ms(x.api.p50), ms(x.api.p95), ms(x.api.p99), ms(x.api.mean)],
          ['Direct SDK calls', ms(x.direct.p50), ms(x.direct.p95), ms(x.direct.p99), ms(x.direct.mean)],
          [
            'Temporal floor (1 activity)',
            ms(x.floor.p50),
            ms(x.floor.p95),
            ms(x.floor.p99),
            ms(x.floor.mean),
          ],
          [
            '**Threadline / direct**',
            `${x.ratios.apiToDirect.p50}×`,
            `${x.ratios.apiToDirect.p95}×`,
            `${x.ratios.apiToDirect.p99}×`,
            '',
          ],
          [
            '**Threadline / floor**',
            `${x.ratios.apiToFloor.p50}×`,
            `${x.ratios.apiToFloor.p95}×`,
            `${x.ratios.apiToFloor.p99}×`,
            '',
          ],
        ],
      ),
      '',
      ...(x.plain
        ? [
            `A turn without tools (one model call, the plain agent), interleaved with the others: ${ms(x.plain.p50)} at p50, ` +
              `**${(x.plain.p50 / x.floor.p50).toFixed(2)}×** the floor (p95 ${ms(x.plain.p95)}).`,
            '',
          ]
        : []),
      ...(x.slowModel
        ? [
            `Against a model that takes ${ms(x.slowModel.latencyMs)} per call (the emulator’s latency fault; ${x.slowModel.samples} ` +
              `samples each): the tool turn took ${ms(x.slowModel.api.p50)} at p50 against ${ms(x.slowModel.direct.p50)} for the ` +
              `direct calls, so Threadline adds ${ms(x.slowModel.api.p50 - x.slowModel.direct.p50)} ` +
              `(${round1((100 * (x.slowModel.api.p50 - x.slowModel.direct.p50)) / x.slowModel.direct.p50)}% of the model’s time).`,
            '',
          ]
        : []),
      'With a real model each call takes hundreds of milliseconds to seconds, so what Threadline adds is about ' +
        `${ms(x.api.p50 - x.direct.p50)} per turn at p50 here (the API turn minus the direct calls), ` +
        `${round1(x.api.p50 / x.floor.p50)} times the cost of one workflow with one activity.`,
      '',
      `Where a turn’s time goes (medians over each conversation’s last turn, from the timestamps in its history, ` +
        `${ms(x.breakdown.totalMs)} from the update’s acceptance to its completion):`,
      '',
      table(
        ['Part', 'Count', 'Time'],
        [
          [
            'Activities running (Postgres, the emulator, the tool)',
            x.breakdown.activities,
            ms(x.breakdown.activityRunMs),
          ],
          [
            'Activities waiting to be picked up (scheduled → started)',
            '',
            ms(x.breakdown.activityDispatchMs),
          ],
          [
            x.breakdown.localActivities
              ? `Workflow tasks running (with the ${x.breakdown.localActivities} local activities inside them)`
              : 'Workflow tasks running',
            x.breakdown.workflowTasks,
            ms(x.breakdown.workflowTaskRunMs),
          ],
          ['Workflow tasks waiting to be picked up', '', ms(x.breakdown.workflowTaskDispatchMs)],
          [
            'Between tasks (the server recording results, scheduling the next)',
            '',
            ms(
              Math.max(
                0,
                x.breakdown.totalMs -
                  x.breakdown.activityRunMs -
                  x.breakdown.activityDispatchMs -
                  x.breakdown.workflowTaskRunMs -
                  x.breakdown.workflowTaskDispatchMs,
              ),
            ),
          ],
          [
            'Outside the history (API, update-with-start, HTTP), p50 turn minus the above',
            '',
            ms(Math.max(0, x.api.p50 - x.breakdown.totalMs)),
          ],
        ],
      ),
      '',
      (() => {
        const hops = x.breakdown.activities + x.breakdown.workflowTasks;
        const waiting = x.breakdown.activityDispatchMs + x.breakdown.workflowTaskDispatchMs;
        return (
          `A tool turn is ${hops} task hops (${x.breakdown.workflowTasks} workflow tasks, ${x.breakdown.activities} activities` +
          `${x.breakdown.localActivities ? `; its ${x.breakdown.localActivities} local activities run inside the workflow tasks, no hop of their own` : ''}), ` +
          `and each waited about ${ms(waiting / hops)} between being scheduled and being picked up: ` +
          `${Math.round((waiting / x.breakdown.totalMs) * 100)}% of the turn, against ` +
          `${Math.round(((x.breakdown.activityRunMs + x.breakdown.workflowTaskRunMs) / x.breakdown.totalMs) * 100)}% doing work. ` +
          'The floor (3 hops) pays the same per hop. Until the dev server read its transfer queue at 1,000 reads/s ' +
          'instead of 20 ([deploy.md](deploy.md#temporal-server-settings)) each hop of a busy conversation waited ' +
          'about 40 ms for that reader; every hop removed from a turn still saves one dispatch.'
        );
      })(),
      '',
      meta(t),
    );
  } else out.push(notRun(t));

  const tp = b.throughput;
  out.push('', '## Throughput', '');
  if (tp?.result) {
    const x = tp.result;
    out.push(
      'N conversations at once, each a closed loop of synchronous turns through the API (`?wait=true`), so N turns are ' +
        'always in flight; the plain agent (chained, no tools). Afterwards every message is checked: an HTTP 200 whose reply ' +
        'names the message, exactly one transcript input item carrying its text, one assistant reply per turn in the ' +
        'transcript, and a reply that echoes its own message (not another one).',
      '',
      table(
        [
          'Conversations',
          'Turns each',
          'Messages',
          'Seconds',
          'Turns/s',
          'p50',
          'p95',
          'p99',
          'Lost',
          'Duplicated',
          'Misrouted',
        ],
        tp.result.runs.map((x) => [
          n(x.conversations),
          x.turnsPerConversation,
          n(x.messages),
          x.seconds,
          `**${x.turnsPerSecond}**`,
          ms(x.latency.p50),
          ms(x.latency.p95),
          ms(x.latency.p99),
          x.lost,
          x.duplicated,
          x.misrouted,
        ]),
      ),
      '',
      'Latency of first turns (they also start the workflow) and of later turns, beside the mean a fair queue would ' +
        'give by Little’s law (conversations in flight ÷ turns per second):',
      '',
      table(
        [
          'Conversations',
          'First turn p50',
          'First turn p95',
          'Later turns p50',
          'Later turns p95',
          'N ÷ turns/s',
        ],
        tp.result.runs.map((x) => [
          n(x.conversations),
          ms(x.firstTurn.p50),
          ms(x.firstTurn.p95),
          ms(x.laterTurns.p50),
          ms(x.laterTurns.p95),
          ms((x.conversations / x.turnsPerSecond) * 1000),
        ]),
      ),
      '',
      (() => {
        const big = x.runs.at(-1)!;
        const ratio = big.laterTurns.n ? big.firstTurn.p50 / big.laterTurns.p50 : 0;
        return (
          `At ${n(big.conversations)} conversations a first turn took ${ratio.toFixed(2)}× as long as a later one at p50. ` +
          'A first turn starts its workflow, whose first task every worker takes from the shared task queue; a later turn of a ' +
          'conversation in a worker’s cache goes to that worker’s sticky queue. The SDK gives the shared queue only a fifth ' +
          'of a worker’s workflow-task polls by default (`nonStickyToStickyPollRatio` 0.2), so under overload new ' +
          'conversations would queue behind running ones; the API here hands messages over in arrival order, 32 at a ' +
          'time (`MESSAGE_HANDOVER_LIMIT`), so they wait their turn instead (deploy.md “Fair hand-over under overload”).'
        );
      })(),
      '',
      ...(() => {
        const c = cpuCeiling(r);
        const cpu = tp.cpu ?? {};
        const turns = x.runs.reduce((a, y) => a + y.messages - y.lost, 0);
        return c
          ? [
              `CPU per answered turn during this benchmark (each role’s own accounting from /proc): ` +
                Object.entries(cpu)
                  .map(([role, secs]) => `${role} ${round1((1000 * secs) / turns)} ms`)
                  .join(', ') +
                `; **${round1(c.msPerTurn)} ms in all**, so ${r.machine.cpus} cores running nothing else would give at most ` +
                `**${round1(c.turnsPerSecond)} turns/s**.`,
              '',
            ]
          : [];
      })(),
      'Everything (Temporal, PostgreSQL, the worker, the API, the emulator and the load generator) shares the 2 cores, so ' +
        'turns per second is the capacity of the whole stack on one small machine, not of a worker; past saturation more ' +
        'conversations add latency (the turns queue), not throughput.',
      '',
      meta(tp),
    );
  } else out.push(notRun(tp));

  const h = b.history;
  out.push('', '## History economy', '');
  if (h?.result) {
    const x = h.result;
    out.push(
      `One conversation of ${x.turns} turns (chained, no tools, ~${x.messageChars}-character messages; ${x.runs} workflow run(s)). ` +
        '**Measured**: the history events and bytes each turn adds (from the update’s acceptance to the next, protobuf-encoded, ' +
        'as `test/workflows/historySize.test.ts` counts them). **Computed**: the same turn if, like peers that pass the ' +
        'conversation through their model activity, the whole transcript so far (its items as JSON, from ' +
        '`session_items`) were the activity’s input: measured bytes plus the transcript, once per model call.',
      '',
      table(
        ['Turn', 'Events', 'History bytes (Threadline)', 'Transcript so far', 'Pass-through design', 'Ratio'],
        x.points.map((p) => [
          p.turn,
          p.events,
          kb(p.bytes),
          kb(p.transcriptBytes),
          kb(p.peerBytes),
          `${(p.peerBytes / p.bytes).toFixed(1)}×`,
        ]),
      ),
      '',
      `Over all ${x.turns} turns: ${kb(x.cumulative.ours)} of history here against ${kb(x.cumulative.peer)} for the pass-through ` +
        `design. Extrapolating the transcript’s growth, the pass-through design would exceed Temporal’s 2 MB payload limit at ` +
        `about turn ${n(x.peerHits.blobLimitTurn)} (continue-as-new cannot help: one activity input is too big) and a 50 MB ` +
        `history at about turn ${n(x.peerHits.historyLimitTurn)} without continue-as-new. Threadline’s per-turn cost does not grow.`,
      '',
      ...(x.toolTurns
        ? [
            `A second conversation of ${x.toolTurns.turns} turns, each with one tool call (two model calls, the tools agent): ` +
              x.toolTurns.points.map((p) => `turn ${p.turn}: **${p.events}** events`).join(', ') +
              ` (medians around each turn); every turn from 2 on added ${x.toolTurns.min}–${x.toolTurns.max} events ` +
              '(the highest is a turn that also carried a continue-as-new or a start).',
            '',
          ]
        : []),
      meta(h),
    );
  } else out.push(notRun(h));

  const ib = b['input-bytes'];
  out.push('', '## Input bytes sent to the model per turn', '');
  if (ib?.result) {
    const x = ib.result;
    const by = (name: string) => x.cases.find((c) => c.name === name)!;
    out.push(
      `Three conversations of ${x.turn} turns with ~${n(x.messageChars)}-character messages, side by side; the bytes are the ` +
        `request bodies of turn ${x.turn}’s model calls in the emulator’s request journal. **Chained**: ` +
        '`previous_response_id`, only the new message. **Stateless**: the whole transcript every call (an agent with ' +
        'a token budget too large to trim). **Recovery**: chained, but its last response expired before turn ' +
        `${x.turn}; the failed chained call is answered 400 and the step re-sends history from Postgres within the default ` +
        `\`historyTokenBudget\` of ${n(x.historyTokenBudget)} tokens.`,
      '',
      table(
        [
          'Strategy',
          `Bytes at turn ${x.turn}`,
          'Requests (status: bytes)',
          'Input tokens (emulator)',
          'vs chained',
        ],
        x.cases.map((c) => [
          c.name,
          kb(c.bytes),
          c.requests.map((q) => `${q.status}: ${n(q.bytes)}`).join(', '),
          c.inputTokens === null ? '—' : n(c.inputTokens),
          `${(c.bytes / by('chained').bytes).toFixed(1)}×`,
        ]),
      ),
      '',
      'Input tokens still cover the whole chain when chained (the model reads it; OpenAI bills the stable prefix at the ' +
        'cached-input price), but the bytes on the wire stay those of one message. The recovery turn costs about as much ' +
        'as a stateless call trimmed to the budget, once; the turns after it chain again.',
      '',
      meta(ib),
    );
  } else out.push(notRun(ib));

  const s = b.session;
  out.push('', '## Session store', '');
  if (s?.result) {
    const x = s.result;
    out.push(
      `\`PostgresSession\` (\`src/store/session\`) against the Agents SDK’s \`MemorySession\`, on a session of ${n(x.sizes.items)} items in a ` +
        `table of ${n(x.sizes.items + x.sizes.otherSessions * x.sizes.otherItems)} items over ${x.sizes.otherSessions + 1} sessions ` +
        '(items of ~190 characters, seeded in SQL). The same code runs alone as `npm run bench:session`.',
      '',
      table(
        ['Operation', 'Calls', 'p50', 'p95', 'p99', 'mean'],
        x.operations.map((o) => [o.name, n(o.n), ms(o.p50), ms(o.p95), ms(o.p99), ms(o.mean)]),
      ),
      '',
      `Postgres / memory at p50: getItems(50) ${x.ratios.getItems}×, addItems(10) ${x.ratios.addItems}×. ` +
        `${x.concurrent.writers} concurrent writers on one session: ${n(x.concurrent.callsPerSecond)} addItems(10) calls/s ` +
        `(${n(x.concurrent.itemsPerSecond)} items/s); writers to one session serialise on its lock by design, different ` +
        'sessions do not contend. `MemorySession.addItems` copies its whole array on every call, which is why it is no faster ' +
        'than Postgres at this size. See [store.md](store.md) for the query plans behind these numbers.',
      '',
      meta(s),
    );
  } else out.push(notRun(s));

  const m = b['worker-memory'];
  out.push('', '## Worker memory', '');
  if (m?.result) {
    const x = m.result;
    out.push(
      `A worker in its own process (\`bench/worker.ts\`, workflow cache ${x.maxCachedWorkflows === undefined ? 'the SDK’s default' : `of ${n(x.maxCachedWorkflows)} (\`WORKER_MAX_CACHED_WORKFLOWS\`)`}) and ${n(x.conversations)} ` +
        'conversations opened on its own task queue, each answered once and left open (waiting for a next message, as a ' +
        'live conversation does). RSS is read from `/proc/<pid>/status` (VmRSS) 3 s after each quarter.',
      '',
      table(
        ['Open conversations', 'RSS'],
        x.samples.map((p) => [n(p.open), `${p.rssMb} MB`]),
      ),
      '',
      `About **${x.perConversationKb} KB per open conversation** (from the first quarter to the last), peak RSS ${x.peakRssMb} MB. ` +
        'Open conversations stay in the worker’s workflow cache while it has room; with a smaller cache ' +
        '(`maxCachedWorkflows`) they are evicted and replayed from history on their next message, trading memory for CPU.',
      '',
      ...(x.nextTurn
        ? [
            `Then a next message, one at a time and alternating, to the ${x.nextTurn.samples} conversations opened first ` +
              `(out of the cache when it holds fewer than are open) and the ${x.nextTurn.samples} opened last: ` +
              `${ms(x.nextTurn.oldest.p50)} at p50 (p95 ${ms(x.nextTurn.oldest.p95)}) against ${ms(x.nextTurn.newest.p50)} ` +
              `(p95 ${ms(x.nextTurn.newest.p95)}): what an eviction costs the conversation that comes back.`,
            '',
          ]
        : []),
      meta(m),
    );
  } else out.push(notRun(m));

  const st = b.streaming;
  out.push('', '## Time to the first streamed delta', '');
  if (st?.result) {
    const x = st.result;
    out.push(
      'A message posted (`POST …/messages`, 202) and its events read (`GET …/events`, server-sent events) until the first ' +
        '`stream.delta`, against the same streamed `responses.create` call made directly with the `openai` SDK until its ' +
        `first \`response.output_text.delta\`. The emulator paces every streamed event by ${x.eventDelayMs} ms, as a model ` +
        `writes token by token; ${x.samples} samples each, interleaved, each in a new conversation (its first turn).`,
      '',
      table(
        ['Path', 'First delta p50', 'p95', 'p99', 'Last delta p50'],
        [
          [
            'Threadline (POST, then SSE)',
            ms(x.threadline.p50),
            ms(x.threadline.p95),
            ms(x.threadline.p99),
            ms(x.threadlineLastDelta.p50),
          ],
          [
            'Direct streamed call',
            ms(x.direct.p50),
            ms(x.direct.p95),
            ms(x.direct.p99),
            ms(x.directLastDelta.p50),
          ],
          ['**Threadline − direct**', ms(x.overheadMs.p50), ms(x.overheadMs.p95), ms(x.overheadMs.p99), ''],
        ],
      ),
      '',
      meta(st),
    );
  } else out.push(notRun(st));

  const mg = b.migration;
  out.push('', '## Migration throughput under a rate limit', '');
  if (mg?.result) {
    const x = mg.result;
    out.push(
      `Generated Assistants threads (${x.messagesPerThread} messages each, a third with a tool call: ${x.requestsPerThread} ` +
        `requests per thread on average) migrated with a window of ${x.window} children, each run into its own tenant: ` +
        'straight to the emulator (the engine’s own ceiling on this machine), then through a token-bucket proxy ' +
        '(`bench/lib/rateLimitProxy.ts`) that allows 25 requests per second, with a bucket of one second’s worth and then of ' +
        'a fifth of a second’s, and answers the excess 429 with `Retry-After: 1`. (The emulator’s own 429 fault fires a ' +
        'number of times, not at a rate, hence the proxy.) **Share of the allowed rate**: requests served over what the bucket ' +
        'allowed during the run; **useful share**: the requests that finished threads (threads done × requests per thread), ' +
        'the rest being re-reads by unit attempts that a 429 cut short.',
      '',
      table(
        [
          'Run',
          'Threads',
          'Failed',
          'Seconds',
          'Threads/s',
          'Requests/s served',
          '429s',
          'Share of allowed rate',
          'Useful share',
        ],
        x.runs.map((r) => [
          r.label,
          n(r.threads),
          r.failed,
          r.seconds,
          r.threadsPerSecond,
          r.requestsPerSecond,
          n(r.rejected),
          r.shareOfLimit === null ? '—' : `**${Math.round(r.shareOfLimit * 100)}%**`,
          r.usefulShare === null ? '—' : `${Math.round(r.usefulShare * 100)}%`,
        ]),
      ),
      '',
      'Each 429 fails the whole `migrateUnit` attempt, which is retried after exactly Retry-After (no jitter) and reads ' +
        'the thread again from its first request, for at most 20 attempts. With a one-second bucket the engine keeps the ' +
        'limit busy, but part of what it spends is re-reading. With a tight bucket the retries of a whole window arrive in ' +
        'the same instant and most are refused again, so far less of the allowed rate finishes threads' +
        (x.runs.some((r) => r.failed > 0)
          ? `; ${x.runs.reduce((sum, r) => sum + r.failed, 0)} thread(s) ran out of attempts and were reported \`failed\` ` +
            '(the reasons are logged by the bench). '
          : ' (no thread ran out of its attempts in this run). ') +
        'Jittered retry delays, or a window sized to the limit, would spend less of it on re-reads.',
      '',
      meta(mg),
    );
  } else out.push(notRun(mg));
  out.push('', ...LEVERS);
  out.push('');
  if (server) out.push('', ...productionShape(r, server));
  return out.join('\n');
}

/**
 * Why a row of issue #12's table is unmet and what would reach it: shown under the table when the
 * row is unmet in the run the page shows. Written from the measurements on this page.
 */
const WHY_UNMET: Record<string, string> = {
  'Sync tool turn (2 model calls, 1 tool) / Temporal floor, p50':
    'the floor is three task hops (start, one activity, completion) on a server whose transfer reader no longer ' +
    'throttles them, so it is about as fast as Temporal gets on this machine. A tool turn takes six (the first model ' +
    'step, the tool, the answering step that also finishes and sends, each an activity and the task its completion ' +
    'starts) and its work (the breakdown below counts both: two model calls, a tool, the Postgres writes that make ' +
    'each step idempotent). A turn in one regular activity would have the floor’s shape, three hops plus that work, ' +
    'so at best about 1× it; below 1× needs the steps inside the workflow task that takes the message (local ' +
    'activities), which “A turn in fewer hops” below measured and does not use: the message’s acceptance waits for ' +
    'the whole turn, and local activities beside updates replay out of order after a worker stops (an open SDK ' +
    'issue). The target was set against the old, throttled floor (about 3.5× slower, deploy.md “Temporal server ' +
    'settings”).',
  'Sync turn without tools / floor, p50':
    'a plain turn now has exactly the floor’s shape (the accepting task, one activity that records the input, calls ' +
    'the model, finishes and sends, and the completing task), so it costs the floor plus its own work; 0.35× would ' +
    'need a turn faster than a workflow that does nothing, which only local activities in the accepting task could ' +
    'approach (see the tool turn).',
  'Turns/s, 100 conversations, 0 lost':
    'the whole stack (Temporal, PostgreSQL, the worker, the API and the load generator) shares this machine’s two ' +
    'cores, and the CPU each turn costs (under Detail, from /proc) bounds turns per second: ≥ 100 turns/s on 2 cores ' +
    'needs at most 20 ms of CPU per turn for everything, and the same code measured 58 to 93 ms in runs an hour ' +
    'apart. Fewer hops do not close that gap (a turn in 3 hops instead of 8 measured 55 ms, “A turn in fewer hops” ' +
    'below; the answering step that finishes the turn saves 2 hops and 6 events a turn): most of the CPU is per turn (the API and its update call, the dev server’s bookkeeping per event, the ' +
    'Postgres writes that make each step idempotent, the model calls’ serialisation). What reaches it is more ' +
    'cores: the workers and the API scale out, Temporal’s history ' +
    'shards and PostgreSQL scale up (deploy.md “Sizing”).',
  'Turns/s, 1,000 conversations, 0 lost':
    'as at 100 conversations: past saturation more conversations add latency, not throughput.',
  'First-turn p50 / later-turn p50 at 1,000':
    'the load is a closed loop of 1,000 conversations × 2 turns, so a turn waits about N ÷ turns/s on average (the ' +
    'last column of the Throughput latency table). Left to the server, the first turns are that queue: each starts its ' +
    'workflow, whose first task waits on the shared task queue, while a later turn goes to its worker’s sticky queue ' +
    'and is taken at once (35× on 2026-12-04: 27.3 s against 0.78 s). This run hands messages over in arrival order, ' +
    '32 at a time (`MESSAGE_HANDOVER_LIMIT`, deploy.md “Fair hand-over under overload”), which makes later turns wait ' +
    'as long as first ones; a ratio above 1.5× here means the queue did not decide who waits.',
  'History events per tool turn':
    'a tool turn is three activities (the first model step, the tool, the answering step) and each costs six events ' +
    '(scheduled, started, completed, and the workflow task its completion starts), plus the update’s acceptance and ' +
    'completion: 20 at the least, 23 with the workflow task the next message starts. Since `quiet-turns` no status ' +
    'write and no idle timer is left in a turn. ≤ 12 needs the whole tool turn in one activity (11, a plain turn’s ' +
    'shape), with the tool’s retries, timeouts and approvals kept in Postgres instead of Temporal: see “A turn in ' +
    'fewer hops” below.',
  'Worker RSS, 1,000 open conversations':
    'an idle worker (compiled, plain Node) already holds about 225 MB (Node, the Temporal core, the workflow bundle in its ' +
    'V8 context, the OpenAI and Agents SDKs), and each cached conversation about 250–300 KB more, so 1,000 cached ' +
    'conversations cost about 300 MB on their own. A smaller cache bounds the growth but not below about 420 MB (the ' +
    'Levers below: evicted conversations replay into the same V8 heap, which keeps its pages) and costs CPU per turn. ' +
    'What would reach it: more workers with smaller caches (each about 225 MB plus 300 KB per conversation it holds, ' +
    'so four workers of 250 for 1,000 open conversations), not one worker holding all of them.',
  'PostgresSession getItems(50) / addItems(10) p50, 100k-item session':
    'addItems(10) is within its target; getItems(50) is one prepared statement on the primary key (one round trip; ' +
    'store.md has the plans). Measured apart on this machine: the round trip with 50 rows is about 0.2 ms and ' +
    'PostgreSQL’s jsonb output about 0.1 ms more, so 0.3 ms leaves nothing for rebuilding the SDK items (about ' +
    '0.05 ms since they are no longer copied twice each, 0.25 ms before). What would reach it: the items stored as ' +
    'text beside the jsonb (no output conversion; twice the storage), or an in-process cache of a session’s latest ' +
    'items (which needs invalidation across processes). The session size does not enter (the index reads the last 50).',
};

function targetsSection(r: Results): string[] {
  const rows = targetRows(r);
  const unmet = rows.filter((x) => x.met === false && WHY_UNMET[x.metric]);
  return [
    '## Issue #12’s targets',
    '',
    'Every row from the run this page shows (each benchmark’s date and load average are under its section); ' +
      '“—” when the row has no target, was not measured, or ran at `--quick` sizes. `npm run bench` prints the same table.',
    '',
    table(
      ['Metric', 'Target', 'Measured', 'Verdict', 'Detail'],
      rows.map((x) => [x.metric, x.target, x.measured, verdict(x.met), x.detail]),
    ),
    ...unmet.flatMap((x) => ['', `**${x.metric}** (unmet): ${WHY_UNMET[x.metric]}`]),
  ];
}

/**
 * The worker-side levers, measured by hand on 2026-12-02 with `npm run bench -- --only
 * throughput,worker-memory --throughput 300x2 --memory 400` and the WORKER_* variables shown (each
 * a separate run on the same code, branch bench2 at 7af05b7); kept as prose because a bench run
 * measures one setting.
 */
const LEVERS = [
  '## Levers in the worker, measured',
  '',
  'Three runs of 300 conversations × 2 synchronous turns (an overload: about 2.7 turns/s on this machine while ' +
    'other sessions’ suites ran, load average 16–23), and 400 conversations opened on a compiled worker, each run with ' +
    'one setting changed. CPU is the whole stack’s during the throughput run, per answered turn.',
  '',
  table(
    [
      'Setting',
      'Turns/s',
      'First turn p50',
      'Later p50',
      'First / later',
      'CPU per turn (worker)',
      'Not answered',
    ],
    [
      [
        'SDK defaults (cache ~2,300 here, poll ratio 0.2)',
        '2.7',
        '135.6 s',
        '49.8 s',
        '2.72×',
        '166 ms (62)',
        '0',
      ],
      ['`WORKER_NONSTICKY_POLL_RATIO=0.5`', '2.8', '128.5 s', '47.4 s', '2.71×', '—', '2 (HTTP 500)'],
      [
        '`WORKER_MAX_CACHED_WORKFLOWS=100`, ratio 0.5',
        '2.0',
        '147.7 s',
        '24.3 s',
        '6.09×',
        '230 ms (109)',
        '6 (3 HTTP 500)',
      ],
    ],
  ),
  '',
  table(
    ['Worker (400 open)', 'Idle RSS', '100 open', '200', '300', '400', 'Next turn: oldest / newest p50'],
    [
      [
        'Compiled, SDK default cache',
        '224.5 MB',
        '342.8 MB',
        '349.3 MB',
        '397.2 MB',
        '428.5 MB',
        '457 / 472 ms',
      ],
      ['Compiled, cache 100', '215.4 MB', '393.7 MB', '452.7 MB', '421.8 MB', '418.4 MB', '434 / 294 ms'],
      ['Under tsx (the bench before), SDK default', '305.7 MB', '', '', '', '', ''],
    ],
  ),
  '',
  '- **Workflow cache** (`WORKER_MAX_CACHED_WORKFLOWS`). A cache smaller than the conversations in flight stops RSS ' +
    'from growing (418 MB at 400 open against 428 MB, and it stays there), but not below about 420 MB: evicted ' +
    'workflows are replayed into the same V8 context, whose heap does not give its pages back. It costs the worker ' +
    '75% more CPU per turn (the replays) and a returning conversation about 140 ms at p50 here. The default stays ' +
    'the SDK’s (sized to the heap): size it to the conversations that get a message within a few minutes.',
  '- **Shared-queue pollers** (`WORKER_NONSTICKY_POLL_RATIO`, `WORKER_MAX_WORKFLOW_TASK_POLLS`). Giving the shared ' +
    'queue half the workflow-task polls instead of a fifth changed nothing measurable (2.72× → 2.71×), so first turns ' +
    'do not wait for a poller; the default stays the SDK’s. Where they do wait is the next thing to measure: the ' +
    'first turn’s history timestamps under overload (start → first workflow task → its activities) against a later ' +
    'turn’s, as the turn-overhead breakdown does for one turn.',
  '- **The compiled worker.** Under tsx an idle worker holds about 80 MB more (the loader thread and its compiled ' +
    'sources): the memory benchmark now runs `dist/` under plain Node, as `threadline worker` does.',
  '- **The load generator.** With `fetch`, 1,542 of 2,000 messages at 1,000 conversations were counted lost in a ' +
    'first run on this machine: undici gives up connecting after 10 s and on the headers after 300 s. The bench now ' +
    'uses `node:http` with no client timeouts; what is left unanswered is Threadline’s: under this overload a few ' +
    'turns waited past the update RPC’s deadline, and the API answered them 500 (`WorkflowUpdateRPCTimeoutOrCancelledError`, ' +
    'context deadline exceeded) where a 503 with Retry-After (the message may still be taken: a retry with the same id ' +
    'is deduplicated) would tell the client what to do.',
];

function notRun(e: Entry<unknown> | undefined): string {
  return e?.error
    ? `Failed in the last run: \`${e.error}\``
    : 'Not run yet: `npm run bench -- --only <name>`.';
}

/**
 * The same benchmarks on the production shape (bench/results/server.json, written by
 * `npm run bench -- --temporal server`) beside this page's dev-server run, with the CPU each role
 * used (bench/lib/stack.ts cpuSeconds).
 */
export function productionShape(page: Results, server: Results & { devBaseline?: Results }): string[] {
  // The dev-server run measured beside it (same machine load and sizes), when recorded with it.
  const dev = server.devBaseline ?? page;
  const column = (r: Results) => {
    const t = r.benchmarks['turn-overhead'];
    const p = r.benchmarks.throughput;
    const runs = p?.result?.runs ?? [];
    const turns = runs.reduce((a, x) => a + x.messages, 0);
    const cpu = p?.cpu ?? {};
    const total = Object.values(cpu).reduce((a, x) => a + x, 0);
    const share = (role: string) =>
      role in cpu && total ? `${Math.round((100 * cpu[role]!) / total)}%` : '–';
    const last = runs.at(-1);
    const bd = t?.result?.breakdown;
    return [
      t?.result ? ms(t.result.api.p50) : '–',
      t?.result ? ms(t.result.floor.p50) : '–',
      t?.result ? `${t.result.ratios.apiToFloor.p50}×` : '–',
      bd
        ? `${ms(bd.workflowTaskRunMs)} run + ${ms(bd.workflowTaskDispatchMs)} dispatch (${bd.workflowTasks} tasks)`
        : '–',
      bd
        ? `${ms(bd.activityRunMs)} run + ${ms(bd.activityDispatchMs)} dispatch (${bd.activities} activities)`
        : '–',
      last ? `${last.turnsPerSecond} (${last.conversations} conversations)` : '–',
      turns && total ? `${(total / turns).toFixed(3)} s` : '–',
      turns && total ? `${(turns / total).toFixed(1)}` : '–',
      share('temporal'),
      share('temporalPostgres'),
      share('appPostgres'),
      share('worker'),
      share('api'),
      t && p ? `${t.load[0]}–${p.load[1]}${t.quick ? ', quick sizes' : ''}` : '–',
    ];
  };
  const labels = [
    'Tool turn p50',
    'Temporal floor (1 activity) p50',
    'Tool turn / floor',
    'Workflow task time per turn (median)',
    'Activity time per turn (median)',
    'Throughput, turns/s (largest run)',
    'CPU per turn, whole stack',
    'Turns/s per core (1 / CPU per turn)',
    'CPU share at saturation: Temporal',
    '… Temporal’s PostgreSQL',
    '… Threadline’s PostgreSQL',
    '… worker',
    '… API and load generator',
    'Load average during the runs',
  ];
  const [d, s] = [column(dev), column(server)];
  return [
    '## Production shape',
    '',
    'The turn-overhead and throughput benchmarks again with `npm run bench -- --temporal server`: Temporal Server ' +
      `1.29.1 on a PostgreSQL cluster of its own (4 history shards, as docker-compose.yml's auto-setup image), measured ` +
      `${server.updatedAt.slice(0, 16).replace('T', ' ')} UTC (bench/results/server.json), beside ` +
      (server.devBaseline
        ? `a dev-server run of the same sizes measured right after it (${server.devBaseline.updatedAt.slice(0, 16).replace('T', ' ')} UTC, \`devBaseline\` in the same file). `
        : "this page's dev-server run. ") +
      'CPU is each role’s own accounting (`/proc/<pid>/stat` utime + stime of the process and its children) during the ' +
      'throughput benchmark, divided by the turns it answered; it is far less sensitive to the machine’s other load than ' +
      'the latencies.',
    '',
    table(
      ['', 'Dev server (SQLite)', 'Temporal Server on PostgreSQL'],
      labels.map((label, i) => [label, d[i]!, s[i]!]),
    ),
  ];
}
