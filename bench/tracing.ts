import { randomUUID } from 'node:crypto';
import { context, propagation, trace } from '@opentelemetry/api';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { defaultAgents } from '../src/agents/registry.js';
import { createApiKey } from '../src/api/apiKeys.js';
import { createApp } from '../src/api/app.js';
import { listen } from '../src/api/server.js';
import { startEmulator } from '../src/emulator/server.js';
import { createOpenAIClient } from '../src/openaiClient.js';
import { resolveTemporalCli } from '../src/temporal/cli.js';
import { startDevServer } from '../src/temporal/devServer.js';
import { tracedClient } from '../src/telemetry/temporal.js';
import { startTracing, type Tracing } from '../src/telemetry/tracing.js';
import { bundleWorkflows, createWorker } from '../src/worker.js';
import { createScratchDatabase } from '../test/support/database.js';
import { startOtlpCollector } from '../test/support/otlpCollector.js';
import { freePort } from '../test/support/ports.js';
import { startPostgresCluster } from '../test/support/postgres.js';
import { percentiles, round } from './lib/stats.js';

/**
 * `node --import tsx bench/tracing.ts [turns per round] [rounds]`: what tracing costs a turn.
 * The API and the worker run in this process, once without tracing and once with it (exporting to
 * an in-process OTLP receiver), in alternating rounds of sequential `?wait=true` turns with one tool
 * call (two model calls); reported: turn latency p50/p95 and this process's CPU per turn.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });

const turnsPerRound = Number(process.argv[2] ?? 20);
const rounds = Number(process.argv[3] ?? 4);

async function main(): Promise<void> {
  const cli = await resolveTemporalCli({ env: process.env, allowSdkDownload: false });
  const [pg, emulator] = await Promise.all([startPostgresCluster(), startEmulator()]);
  const temporal = await startDevServer({ cli, port: await freePort() });
  const collector = await startOtlpCollector();
  const db = await createScratchDatabase(pg.url, { prefix: 'tl_bench_otel', poolSize: 10 });
  const [plainBundle, tracedBundle] = await Promise.all([
    bundleWorkflows(),
    bundleWorkflows({ tracing: true }),
  ]);
  const key = (await createApiKey(db.pool, { tenant: 'bench', name: 'tracing' })).key;

  async function stackFor(tracing: Tracing | undefined) {
    const taskQueue = `bench-otel-${randomUUID()}`;
    const worker: Worker = await createWorker({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      pool: db.pool,
      openai: createOpenAIClient({ apiKey: 'bench', baseUrl: emulator.baseUrl }),
      agents: defaultAgents('gpt-5-mini'),
      workflowBundle: tracing ? tracedBundle : plainBundle,
      ...(tracing ? { tracing } : {}),
    });
    const running = worker.run();
    const app = createApp({
      client: tracing ? tracedClient(temporal.client) : temporal.client,
      pool: db.pool,
      taskQueue,
      agent: 'concierge',
      replyWaitMs: 30_000,
      log: pino({ level: 'silent' }),
      tracing: Boolean(tracing),
    });
    const http = await listen(app, '127.0.0.1', 0, 2_000);
    return {
      url: http.url,
      async stop() {
        await http.stop();
        worker.shutdown();
        await running;
      },
    };
  }

  async function round(mode: 'off' | 'on') {
    const tracing =
      mode === 'on'
        ? startTracing({ otlpEndpoint: collector.endpoint, otlpHeaders: {}, serviceName: undefined }, 'bench')
        : undefined;
    const stack = await stackFor(tracing);
    const latencies: number[] = [];
    // One warm-up turn (the workflow cache, connections), not counted.
    await turn(stack.url, key);
    const cpu = process.cpuUsage();
    for (let i = 0; i < turnsPerRound; i++) latencies.push(await turn(stack.url, key));
    const used = process.cpuUsage(cpu);
    await tracing?.forceFlush();
    await stack.stop();
    await tracing?.shutdown();
    // Back to OpenTelemetry's no-op globals for the next round without tracing.
    trace.disable();
    context.disable();
    propagation.disable();
    return { latencies, cpuMsPerTurn: (used.user + used.system) / 1000 / turnsPerRound };
  }

  const results: Record<'off' | 'on', { latencies: number[]; cpu: number[] }> = {
    off: { latencies: [], cpu: [] },
    on: { latencies: [], cpu: [] },
  };
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const { latencies, cpuMsPerTurn } = await round(mode);
      results[mode].latencies.push(...latencies);
      results[mode].cpu.push(cpuMsPerTurn);
      console.log(
        `round ${r + 1} ${mode}: p50 ${round2(percentiles(latencies).p50)} ms, CPU ${round2(cpuMsPerTurn)} ms/turn`,
      );
    }
  }
  const rows = (['off', 'on'] as const).map((mode) => {
    const p = percentiles(results[mode].latencies);
    const cpu = results[mode].cpu.reduce((a, b) => a + b, 0) / results[mode].cpu.length;
    return { mode, n: p.n, p50: round2(p.p50), p95: round2(p.p95), cpu: round2(cpu) };
  });
  console.log('\n| Tracing | Turns | p50 ms | p95 ms | API+worker CPU ms/turn |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.mode} | ${r.n} | ${r.p50} | ${r.p95} | ${r.cpu} |`);
  console.log(
    `\nspans received: ${collector.spans.length} (${round2(collector.spans.length / (results.on.latencies.length + rounds / 2))} per turn)`,
  );

  await collector.close();
  await db.drop();
  await temporal.stop();
  await emulator.close();
  await pg.stop();
}

const round2 = (x: number) => round(x, 1);

async function turn(base: string, key: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}/v1/conversations/web/${randomUUID()}/messages?wait=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ text: 'call check_availability {"date":"2026-12-24","party_size":2}' }),
  });
  const body = (await res.json()) as { reply?: { status?: string } };
  if (res.status !== 200 || body.reply?.status !== 'answered') throw new Error(`turn failed: ${res.status}`);
  return performance.now() - started;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
