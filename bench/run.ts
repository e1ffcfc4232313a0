/**
 * `npm run bench [-- --quick] [-- --only name[,name]] [-- --temporal server]`: starts the whole
 * stack once, runs the benchmarks in order, and writes bench/results/latest.json,
 * bench/results/latest.svg and docs/benchmarks.md. With --only, the other benchmarks keep their
 * last recorded results. `--temporal server` (or THREADLINE_TEMPORAL=server) runs them on the
 * production shape (Temporal Server on its own PostgreSQL) and writes bench/results/server.json
 * only: docs/benchmarks.md keeps the dev-server run, with the production shape's numbers beside it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { generateAssistantsFixture } from '../src/emulator/server.js';
import { historyEconomy } from './benchmarks/history.js';
import { inputBytes } from './benchmarks/inputBytes.js';
import { MIGRATION_THREADS, migrationThroughput } from './benchmarks/migration.js';
import { sessionStore } from './benchmarks/session.js';
import { throughput, type ThroughputResult } from './benchmarks/throughput.js';
import { turnOverhead } from './benchmarks/turnOverhead.js';
import { workerMemory } from './benchmarks/workerMemory.js';
import { streamingBenchmark } from './streaming.js';
import { targetRows, targetTable } from './targets.js';
import { round } from './lib/stats.js';
import { loadConfig } from '../src/config.js';
import { cpuSeconds, startStack, type TemporalShape } from './lib/stack.js';
import type { Benchmark, BenchContext } from './lib/types.js';
import { chart, markdown, withHandWritten, type Entry, type Results } from './report.js';

const BENCHMARKS: Benchmark[] = [
  turnOverhead,
  throughput,
  historyEconomy,
  inputBytes,
  sessionStore,
  workerMemory,
  streamingBenchmark,
  migrationThroughput,
] as Benchmark[];

const SHAPE = temporalShape(process.argv.slice(2));
const SERVER_RESULTS = fileURLToPath(new URL('./results/server.json', import.meta.url));
const RESULTS = fileURLToPath(
  new URL(SHAPE === 'server' ? './results/server.json' : './results/latest.json', import.meta.url),
);
const CHART = fileURLToPath(new URL('./results/latest.svg', import.meta.url));
const DOC = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

/** --temporal dev|server, else THREADLINE_TEMPORAL (validated by the config). */
function temporalShape(argv: string[]): TemporalShape {
  const i = argv.indexOf('--temporal');
  if (i < 0) return loadConfig(process.env).temporal.shape;
  const value = argv[i + 1];
  if (value !== 'dev' && value !== 'server')
    throw new Error(
      `--temporal ${value ?? ''}: expected dev (the dev server) or server (Temporal Server on PostgreSQL)`,
    );
  return value;
}

/** `--throughput 300x2,100x5` (conversations x turns) and `--memory 400` (open conversations). */
function parseSizes(argv: string[]): BenchContext['sizes'] {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? (argv[i + 1] ?? '') : undefined;
  };
  const sizes: NonNullable<BenchContext['sizes']> = {};
  const tp = value('--throughput');
  if (tp !== undefined) {
    sizes.throughput = tp.split(',').map((pair) => {
      const m = /^(\d+)x(\d+)$/.exec(pair);
      if (!m) throw new Error(`--throughput ${tp}: expected conversations x turns, e.g. 300x2,100x5`);
      return [Number(m[1]), Number(m[2])] as [number, number];
    });
  }
  const memory = value('--memory');
  if (memory !== undefined) {
    if (!/^\d+$/.test(memory) || Number(memory) < 4 || Number(memory) % 4 !== 0)
      throw new Error(
        `--memory ${memory}: expected a number of open conversations, a multiple of 4 (it is measured by quarters)`,
      );
    sizes.memory = Number(memory);
  }
  return sizes;
}

function parseArgs(argv: string[]): { quick: boolean; only: string[] | undefined } {
  const quick = argv.includes('--quick');
  const i = argv.indexOf('--only');
  const only = i >= 0 ? (argv[i + 1] ?? '').split(',').filter(Boolean) : undefined;
  const known = BENCHMARKS.map((b) => b.name);
  for (const name of only ?? []) {
    if (!known.includes(name))
      throw new Error(`--only ${name}: no such benchmark (known: ${known.join(', ')})`);
  }
  if (i >= 0 && !only?.length) throw new Error(`--only needs a name (known: ${known.join(', ')})`);
  return { quick, only };
}

const load = () => round(loadavg()[0]!, 2);
const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function main(): Promise<void> {
  if (process.argv.includes('--report')) {
    // Rewrites the chart and docs/benchmarks.md from latest.json, measuring nothing.
    await write(JSON.parse(readFileSync(RESULTS, 'utf8')) as Results);
    return;
  }
  const { quick, only } = parseArgs(process.argv.slice(2));
  const sizes = parseSizes(process.argv.slice(2));
  const selected = BENCHMARKS.filter((b) => !only || only.includes(b.name));
  log(
    `${quick ? 'quick' : 'full'} run: ${selected.map((b) => b.name).join(', ')}; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );

  const previous: Results | undefined = existsSync(RESULTS)
    ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Results)
    : undefined;
  const results: Results = {
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      memoryGb: round(totalmem() / 1024 ** 3, 1),
      node: process.version,
      platform: `${platform()} ${release()}`,
    },
    updatedAt: new Date().toISOString(),
    benchmarks: only ? { ...(previous?.benchmarks ?? {}) } : {},
  };

  const fixture = generateAssistantsFixture({
    threads: quick ? MIGRATION_THREADS.quick : MIGRATION_THREADS.full,
    messagesPerThread: 4,
    seed: 7,
  });
  const stack = await startStack({ fixture, log, temporal: SHAPE });
  results.machine.temporal = SHAPE;
  let failed = false;
  try {
    const { rows } = await stack.pool.query<{ server_version: string }>('SHOW server_version');
    results.machine.postgres = rows[0]!.server_version;
    for (const b of selected) {
      log(`${b.name}: start`);
      const before = load();
      const cpuBefore = cpuSeconds(stack.processes);
      const started = performance.now();
      const entry: Entry<unknown> = {
        measuredAt: new Date().toISOString(),
        // Sizes given by hand are not the table's: judged like --quick.
        quick:
          quick ||
          (b.name === 'throughput' && !!sizes?.throughput) ||
          (b.name === 'worker-memory' && !!sizes?.memory),
        seconds: 0,
        load: [before, 0],
      };
      try {
        entry.result = await b.run({ stack, quick, sizes, log });
        const broken = integrityProblem(b.name, entry.result);
        if (broken) {
          failed = true;
          log(`${b.name}: FAILED ${broken}`);
        }
      } catch (err) {
        failed = true;
        entry.error = err instanceof Error ? err.message : String(err);
        log(`${b.name}: FAILED ${entry.error}`);
      }
      entry.seconds = round((performance.now() - started) / 1000, 1);
      const cpuAfter = cpuSeconds(stack.processes);
      // Where the CPU went during this benchmark, by role (seconds of CPU, from /proc).
      entry.cpu = Object.fromEntries(
        Object.entries(cpuAfter).map(([role, s]) => [role, round(s - (cpuBefore[role] ?? 0), 1)]),
      );
      entry.load[1] = load();
      (results.benchmarks as Record<string, Entry<unknown>>)[b.name] = entry;
      log(`${b.name}: ${entry.seconds} s`);
      await write(results);
    }
  } finally {
    await stack.stop();
  }
  console.log(`\nIssue #12's targets (${only ? 'this run, and the last run of the others' : 'this run'}):\n`);
  console.log(targetTable(targetRows(results)));
  console.log('');
  log(SHAPE === 'server' ? `wrote ${RESULTS}` : `wrote ${RESULTS}, ${CHART} and ${DOC}`);
  if (failed) process.exitCode = 1;
}

/** Lost or duplicated messages are a bug, not a number: the run exits non-zero. */
function integrityProblem(name: string, result: unknown): string | undefined {
  if (name !== 'throughput') return undefined;
  const runs = (result as ThroughputResult).runs;
  const bad = runs.filter((r) => r.lost || r.duplicated || r.misrouted);
  return bad.length
    ? bad
        .map(
          (r) =>
            `${r.conversations} conversations: ${r.lost} lost, ${r.duplicated} duplicated, ${r.misrouted} misrouted`,
        )
        .join('; ')
    : undefined;
}

async function write(results: Results): Promise<void> {
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  // Formatted as `npm run check` expects, so a run leaves the tree clean.
  const config = (await resolveConfig(DOC)) ?? {};
  writeFileSync(RESULTS, await format(JSON.stringify(results), { ...config, parser: 'json' }));
  if (SHAPE === 'server') return;
  writeFileSync(CHART, chart(results));
  const serverResults = existsSync(SERVER_RESULTS)
    ? (JSON.parse(readFileSync(SERVER_RESULTS, 'utf8')) as Results)
    : undefined;
  const previous = existsSync(DOC) ? readFileSync(DOC, 'utf8') : undefined;
  const page = withHandWritten(markdown(results, serverResults), previous);
  writeFileSync(DOC, await format(page, { ...config, parser: 'markdown' }));
}

await main();
