import { loadConfig } from '../src/config.js';
import { DRILLS, type Drill } from './drills.js';
import { DrillEnv, Infra } from './env.js';
import { absorbRetriesAfterClose } from './lateErrors.js';
import { verify } from './verify.js';

/**
 * `npm run drill [-- <name> ...] [-- --temporal server]`: runs the fault drills one after the other, each on its own
 * database, task queue, emulator and worker processes, against one PostgreSQL cluster and one
 * file-backed Temporal dev server that the drills may stop and start. Each drill ends in one
 * PASS/FAIL line with its counts; the exit code is 1 if any failed. `--temporal server` (or
 * THREADLINE_TEMPORAL=server) runs them on Temporal Server on its own PostgreSQL instead.
 */
async function main(args: string[]): Promise<number> {
  // --temporal dev|server, else THREADLINE_TEMPORAL (validated by the config).
  const t = args.indexOf('--temporal');
  const shape = t < 0 ? loadConfig(process.env).temporal.shape : args[t + 1];
  if (shape !== 'dev' && shape !== 'server') {
    console.error(
      `--temporal ${shape ?? ''}: expected dev (the dev server) or server (Temporal Server on PostgreSQL)`,
    );
    return 2;
  }
  const argv = t < 0 ? args : args.filter((_, i) => i !== t && i !== t + 1);
  const unknown = argv.filter((n) => !DRILLS.some((d) => d.name === n));
  if (unknown.length) {
    console.error(`Unknown drill(s): ${unknown.join(', ')}. Drills: ${DRILLS.map((d) => d.name).join(', ')}`);
    return 2;
  }
  const selected = argv.length ? DRILLS.filter((d) => argv.includes(d.name)) : DRILLS;
  // A drill's client connection closes with calls maybe still retrying on it (drills/lateErrors.ts).
  const lateRetries = absorbRetriesAfterClose();
  const log = (line: string) => console.log(`  ${line}`);
  const started = Date.now();
  console.log(
    shape === 'server'
      ? 'Starting PostgreSQL, Temporal Server on its own PostgreSQL and the workflow bundle...'
      : 'Starting PostgreSQL, the Temporal dev server (file-backed) and the workflow bundle...',
  );
  const infra = await Infra.start(log, shape);
  // Ctrl-C: the cluster and the dev server live outside this process and must not be left behind.
  process.once('SIGINT', () => {
    void infra.close().finally(() => process.exit(130));
  });
  console.log(`Ready in ${seconds(Date.now() - started)}.`);
  const lines: string[] = [];
  let failed = 0;
  try {
    for (const drill of selected) {
      const line = await runDrill(infra, drill, log);
      if (line.startsWith('FAIL')) failed += 1;
      lines.push(line);
    }
  } finally {
    await infra.close();
  }
  console.log(`\n${lines.join('\n')}`);
  console.log(
    `\n${selected.length - failed}/${selected.length} drills passed in ${seconds(Date.now() - started)}` +
      (lateRetries() ? ` (${lateRetries()} client retries after a closed connection ignored).` : '.'),
  );
  return failed ? 1 : 0;
}

async function runDrill(infra: Infra, drill: Drill, log: (line: string) => void): Promise<string> {
  console.log(`\n[${drill.name}] ${drill.summary}`);
  const started = Date.now();
  let env: DrillEnv | undefined;
  try {
    env = await DrillEnv.create(infra, drill.name, drill.agent);
    const outcome = await drill.run(env, (line) => log(`[${seconds(Date.now() - started)}] ${line}`));
    const verdict = await verify(env, outcome.traffic);
    const problems = [...(outcome.problems ?? []), ...env.unexpectedExits, ...verdict.problems];
    const c = verdict.counts;
    const counts =
      `${c.conversations} conversations, ${c.answered}/${c.accepted} accepted messages answered once ` +
      `(${c.sent} sent, ${c.requestRetries} request retries), ${c.turns} turns, ${c.modelCalls} model calls ` +
      `(${c.recoveries} recovered), ${c.toolCalls} tool calls (${c.toolExecutions} executions, ${c.effectsApplied} applied), ` +
      `${c.deliveries} deliveries (${c.channelSends} sends)` +
      (outcome.fault ? `; ${outcome.fault}` : '');
    for (const p of problems.slice(0, 20)) log(`problem: ${p}`);
    if (problems.length > 20) log(`... and ${problems.length - 20} more problems`);
    const verdictWord = problems.length ? `FAIL (${problems.length} problems)` : 'PASS';
    return `${verdictWord} ${drill.name}: ${counts}; ${seconds(Date.now() - started)}`;
  } catch (err) {
    for (const w of env?.workers ?? []) log(`worker output: ${w.output().slice(-2000)}`);
    return `FAIL ${drill.name}: ${err instanceof Error ? err.message : String(err)}; ${seconds(Date.now() - started)}`;
  } finally {
    await env?.close().catch(() => {});
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
