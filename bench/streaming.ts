/**
 * Time to first delta: how long after a message is sent the first text of the answer reaches a
 * client, through Threadline (POST the message, then GET .../events, first `stream.delta`) against
 * the same streamed call made directly to the emulator with the openai SDK (first
 * `response.output_text.delta`). The emulator paces every streamed event (EVENT_MS), as a model
 * writes token by token; both paths wait for the same events before the first text.
 *
 *   npx tsx bench/streaming.ts [--quick]
 *
 * Also exported as a Benchmark for bench/run.ts.
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { loadDefaultAssistantsFixture } from '../src/emulator/server.js';
import { AGENTS, INSTRUCTIONS, MODEL } from './lib/agents.js';
import { startApi, startStack } from './lib/stack.js';
import { percentiles, round, type Percentiles } from './lib/stats.js';
import type { Benchmark, BenchContext } from './lib/types.js';

const EVENT_MS = 20;
const TEXT = 'Tell me, in a few words, how streaming works.';

export interface StreamingResult {
  samples: number;
  eventDelayMs: number;
  /** Milliseconds from sending the message to the first text delta. */
  threadline: Percentiles;
  direct: Percentiles;
  /** threadline - direct, per percentile. */
  overheadMs: Record<'p50' | 'p95' | 'p99', number>;
  /** The whole answer: its last delta, through Threadline. */
  threadlineLastDelta: Percentiles;
  directLastDelta: Percentiles;
}

async function throughThreadline(apiUrl: string, key: string): Promise<{ first: number; last: number }> {
  const id = `stream-${randomUUID()}`;
  const conv = `${apiUrl}/v1/conversations/web/${id}`;
  const start = performance.now();
  const posted = await fetch(`${conv}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text: TEXT }),
  });
  if (posted.status !== 202) throw new Error(`streaming bench: POST answered ${posted.status}`);
  const abort = new AbortController();
  const res = await fetch(`${conv}/events`, {
    headers: { authorization: `Bearer ${key}` },
    signal: abort.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let first: number | undefined;
  let last = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('streaming bench: the event stream ended before the reply');
      buffer += decoder.decode(value, { stream: true });
      const now = performance.now() - start;
      if (buffer.includes('event: stream.delta\n')) {
        first ??= now;
        last = now;
      }
      if (buffer.includes('event: reply\n')) break;
      buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
    }
  } finally {
    abort.abort();
  }
  if (first === undefined) throw new Error('streaming bench: a reply without deltas');
  return { first, last };
}

async function direct(openai: OpenAI): Promise<{ first: number; last: number }> {
  const start = performance.now();
  const stream = await openai.responses.create({
    model: MODEL,
    instructions: INSTRUCTIONS,
    input: [{ role: 'user', content: TEXT }],
    stream: true,
  });
  let first: number | undefined;
  let last = 0;
  for await (const event of stream) {
    if (event.type !== 'response.output_text.delta') continue;
    last = performance.now() - start;
    first ??= last;
  }
  if (first === undefined) throw new Error('streaming bench: no delta from the emulator');
  return { first, last };
}

export const streamingBenchmark: Benchmark<StreamingResult> = {
  name: 'streaming',
  title: 'Time to first delta',
  async run({ stack, quick, log }: BenchContext) {
    const samples = quick ? 10 : 40;
    stack.emulator.faults.add({ kind: 'slow_stream', latencyMs: EVENT_MS, times: Infinity });
    const api = await startApi(stack, AGENTS.plain);
    const openai = new OpenAI({ baseURL: stack.emulator.baseUrl, apiKey: 'bench', maxRetries: 0 });
    const t: { first: number; last: number }[] = [];
    const d: { first: number; last: number }[] = [];
    try {
      // Warm-up: the first workflow and the first stream pay for caches and connections.
      await throughThreadline(api.url, stack.apiKey);
      await direct(openai);
      // Interleaved, so the machine's noise lands on both alike.
      for (let i = 0; i < samples; i++) {
        t.push(await throughThreadline(api.url, stack.apiKey));
        d.push(await direct(openai));
      }
    } finally {
      stack.emulator.faults.clear();
      await api.stop();
    }
    const threadline = percentiles(t.map((s) => s.first));
    const directP = percentiles(d.map((s) => s.first));
    const result: StreamingResult = {
      samples,
      eventDelayMs: EVENT_MS,
      threadline,
      direct: directP,
      overheadMs: {
        p50: round(threadline.p50 - directP.p50, 1),
        p95: round(threadline.p95 - directP.p95, 1),
        p99: round(threadline.p99 - directP.p99, 1),
      },
      threadlineLastDelta: percentiles(t.map((s) => s.last)),
      directLastDelta: percentiles(d.map((s) => s.last)),
    };
    log(`streaming: first delta p50 ${threadline.p50} ms through Threadline, ${directP.p50} ms direct`);
    return result;
  },
};

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const log = (line: string) => console.error(line);
  const stack = await startStack({ fixture: loadDefaultAssistantsFixture(), log });
  try {
    const result = await streamingBenchmark.run({ stack, quick, log });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await stack.stop();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
