import type { Results } from './report.js';

/**
 * Issue #12's targets, each computed from one `npm run bench` run (bench/results/latest.json).
 * A row whose benchmark did not run, failed or ran at `--quick` sizes is `met: undefined`: its
 * number is shown but says nothing about the target. Rows without a target (the streaming and
 * 1 s-model rows) are reported for proportion and are never met or unmet.
 */
export interface TargetRow {
  metric: string;
  target: string;
  /** The measured value, formatted; '—' when not measured. */
  measured: string;
  met: boolean | undefined;
  /** What the number is made of, or why it is not comparable. */
  detail: string;
}

const f2 = (x: number) => x.toFixed(2);
const f1 = (x: number) => x.toFixed(1);
const ms = (x: number) =>
  x < 10 ? `${x.toFixed(2)} ms` : x < 1000 ? `${x.toFixed(1)} ms` : `${(x / 1000).toFixed(2)} s`;

export function targetRows(r: Results): TargetRow[] {
  const b = r.benchmarks;
  const rows: TargetRow[] = [];
  const row = (
    metric: string,
    target: string,
    entry: { quick: boolean; result?: unknown } | undefined,
    compute: () => { measured: string; ok: boolean | undefined; detail: string } | undefined,
  ) => {
    const value = entry?.result ? compute() : undefined;
    if (!value) {
      rows.push({ metric, target, measured: '—', met: undefined, detail: 'not measured in this run' });
      return;
    }
    rows.push({
      metric,
      target,
      measured: value.measured,
      met: entry!.quick ? undefined : value.ok,
      detail: entry!.quick ? `${value.detail} (--quick sizes: not comparable)` : value.detail,
    });
  };

  const t = b['turn-overhead'];
  row('Sync tool turn (2 model calls, 1 tool) / Temporal floor, p50', '≤ 0.5×', t, () => {
    const x = t!.result!;
    const ratio = x.api.p50 / x.floor.p50;
    return { measured: `${f2(ratio)}×`, ok: ratio <= 0.5, detail: `${ms(x.api.p50)} / ${ms(x.floor.p50)}` };
  });
  row('Sync turn without tools / floor, p50', '≤ 0.35×', t, () => {
    const x = t!.result!;
    if (!x.plain) return undefined;
    const ratio = x.plain.p50 / x.floor.p50;
    return {
      measured: `${f2(ratio)}×`,
      ok: ratio <= 0.35,
      detail: `${ms(x.plain.p50)} / ${ms(x.floor.p50)}`,
    };
  });

  const tp = b.throughput;
  // Hand-given sizes (--throughput) fill the row nearest in size, named in its detail.
  const run = (n: number) => {
    const runs = tp?.result?.runs ?? [];
    return (
      runs.find((x) => x.conversations === n) ??
      (tp?.quick
        ? [...runs].sort(
            (a, b) => Math.abs(Math.log(a.conversations / n)) - Math.abs(Math.log(b.conversations / n)),
          )[0]
        : undefined)
    );
  };
  const size = (x: { conversations: number }, n: number) =>
    x.conversations === n ? '' : `${x.conversations.toLocaleString('en-US')} conversations: `;
  const ceiling = cpuCeiling(r);
  for (const [n, min] of [
    [100, 100],
    [1000, 80],
  ] as const) {
    row(`Turns/s, ${n.toLocaleString('en-US')} conversations, 0 lost`, `≥ ${min}`, tp, () => {
      const x = run(n);
      if (!x) return undefined;
      const clean = x.lost === 0 && x.duplicated === 0 && x.misrouted === 0;
      return {
        measured: f1(x.turnsPerSecond),
        ok: x.turnsPerSecond >= min && clean,
        detail:
          size(x, n) +
          `${x.messages} turns in ${f1(x.seconds)} s; ${x.lost} lost, ${x.duplicated} duplicated, ${x.misrouted} misrouted` +
          (ceiling
            ? `; CPU ${f1(ceiling.msPerTurn)} ms/turn, at most ${f1(ceiling.turnsPerSecond)} turns/s on ${r.machine.cpus} cores`
            : ''),
      };
    });
  }
  row('First-turn p50 / later-turn p50 at 1,000', '≤ 1.5×', tp, () => {
    const x = run(1000);
    if (!x || !x.laterTurns.n) return undefined;
    const ratio = x.firstTurn.p50 / x.laterTurns.p50;
    return {
      measured: `${f2(ratio)}×`,
      ok: ratio <= 1.5,
      detail: `${size(x, 1000)}${ms(x.firstTurn.p50)} / ${ms(x.laterTurns.p50)}`,
    };
  });

  const wm = b['worker-memory'];
  row('Worker RSS, 1,000 open conversations', '≤ 300 MB', wm, () => {
    const x = wm!.result!;
    const last = x.samples.at(-1)!;
    return {
      measured: `${f1(last.rssMb)} MB`,
      ok: last.rssMb <= 300 && last.open >= 1000,
      detail: `${last.open} open, cache ${x.maxCachedWorkflows ?? 'SDK default'}; idle ${f1(x.samples[0]!.rssMb)} MB`,
    };
  });

  const h = b.history;
  row('History events per tool turn', '≤ 12, flat to turn 200', h, () => {
    const x = h!.result!.toolTurns;
    if (!x) return undefined;
    const second = x.points.find((p) => p.turn === 2)?.events ?? x.points[0]!.events;
    const last = x.points.at(-1)!;
    const flat = last.events === second;
    return {
      measured: `${last.events}`,
      ok: last.events <= 12 && flat && x.turns >= 200,
      detail: `turn 2: ${second}, turn ${last.turn}: ${last.events}${flat ? ' (flat)' : ' (not flat)'}; range ${x.min}–${x.max}`,
    };
  });

  const s = b.session;
  row('PostgresSession getItems(50) / addItems(10) p50, 100k-item session', '≤ 0.3 / ≤ 1 ms', s, () => {
    const x = s!.result!;
    const get = x.operations.find((o) => o.name === 'PostgresSession getItems(50)');
    const add = x.operations.find((o) => o.name === 'PostgresSession addItems(10)');
    if (!get || !add) return undefined;
    return {
      measured: `${f2(get.p50)} / ${f2(add.p50)} ms`,
      ok: get.p50 <= 0.3 && add.p50 <= 1 && x.sizes.items >= 100_000,
      detail: `${x.sizes.items.toLocaleString('en-US')}-item session`,
    };
  });

  const st = b.streaming;
  row('Time to first SSE delta: Threadline / direct, p50', 'reported', st, () => {
    const x = st!.result!;
    return {
      measured: `${ms(x.threadline.p50)} / ${ms(x.direct.p50)}`,
      ok: undefined,
      detail: `+${ms(x.overheadMs.p50)} at p50 (the emulator paces each event by ${x.eventDelayMs} ms)`,
    };
  });
  row('Tool turn against a 1 s model: Threadline / direct, p50', 'reported', t, () => {
    const x = t!.result!.slowModel;
    if (!x) return undefined;
    const added = x.api.p50 - x.direct.p50;
    return {
      measured: `${ms(x.api.p50)} / ${ms(x.direct.p50)}`,
      ok: undefined,
      detail: `Threadline adds ${ms(added)} (${f1((100 * added) / x.direct.p50)}% of the model's time)`,
    };
  });
  return rows;
}

/**
 * The throughput benchmark's CPU (every role of the stack, from /proc) per answered turn, and the
 * turns per second the machine's cores could give at that cost if nothing else ran on them.
 */
export function cpuCeiling(r: Results): { msPerTurn: number; turnsPerSecond: number } | undefined {
  const tp = r.benchmarks.throughput;
  if (!tp?.result || !tp.cpu) return undefined;
  const turns = tp.result.runs.reduce((a, x) => a + x.messages - x.lost, 0);
  const cpu = Object.values(tp.cpu).reduce((a, x) => a + x, 0);
  if (!turns || !cpu) return undefined;
  return { msPerTurn: (1000 * cpu) / turns, turnsPerSecond: (r.machine.cpus * turns) / cpu };
}

export const verdict = (met: boolean | undefined): string =>
  met === undefined ? '—' : met ? 'met' : 'unmet';

/** The rows as a fixed-width table for the terminal, after a run. */
export function targetTable(rows: TargetRow[]): string {
  const head = ['Metric', 'Target', 'Measured', 'Verdict', 'Detail'];
  const cells = rows.map((r) => [r.metric, r.target, r.measured, verdict(r.met), r.detail]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
