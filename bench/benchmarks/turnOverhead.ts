import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { AGENTS, INSTRUCTIONS, MODEL, weather, weatherTool } from '../lib/agents.js';
import { sendMessage } from '../lib/api.js';
import { startApi } from '../lib/stack.js';
import { lastTurnTiming, type TurnTiming } from '../lib/historyTiming.js';
import { median, percentiles, round, timed, type Percentiles } from '../lib/stats.js';
import type { Benchmark } from '../lib/types.js';

export interface TurnOverheadResult {
  samples: number;
  conversations: number;
  api: Percentiles;
  direct: Percentiles;
  floor: Percentiles;
  /** The same API turn for an agent without tools (one model call), interleaved with the others. */
  plain?: Percentiles;
  /** Against a model that takes 1 s per call (emulator latency fault): the API turn and the direct calls. */
  slowModel?: { samples: number; latencyMs: number; api: Percentiles; direct: Percentiles };
  /** Medians over each conversation's last turn, from its history's timestamps. */
  breakdown: TurnTiming;
  /** api / direct and api / floor, per percentile. */
  ratios: {
    apiToDirect: Record<'p50' | 'p95' | 'p99', number>;
    apiToFloor: Record<'p50' | 'p95' | 'p99', number>;
  };
}

const TEXT = 'What is the weather? call get_weather {"city":"Oslo"}';

/**
 * One synchronous turn with one tool call three ways, interleaved sample by sample so that the
 * machine's noise lands on all three alike:
 * - api: POST ?wait=true through the API, workflow, activities, Postgres (two model calls, one tool);
 * - direct: the same two model calls and the tool, with the openai SDK against the same emulator;
 * - floor: a workflow that runs one no-op activity, on the same Temporal server.
 */
export const turnOverhead: Benchmark<TurnOverheadResult> = {
  name: 'turn-overhead',
  title: 'Turn overhead',
  async run({ stack, quick, log }) {
    const samples = quick ? 40 : 150;
    const conversations = 10;
    const api = await startApi(stack, AGENTS.tools);
    const plainApi = await startApi(stack, AGENTS.plain);
    const plainIds = Array.from({ length: conversations }, () => `overhead-plain-${randomUUID()}`);
    const plainTurn = async (lane: number) => {
      const sent = await sendMessage(stack, plainApi.url, plainIds[lane]!, 'Hello there.');
      if (sent.reply?.status !== 'answered')
        throw new Error(`turn-overhead: plain turn not answered (${sent.httpStatus})`);
      return sent.ms;
    };
    const openai = new OpenAI({ baseURL: stack.emulator.baseUrl, apiKey: 'bench', maxRetries: 0 });
    const tools = [
      {
        type: 'function' as const,
        name: weatherTool.name,
        description: weatherTool.description,
        parameters: weatherTool.parameters as Record<string, unknown>,
        strict: true,
      },
    ];
    const ids = Array.from({ length: conversations }, () => `overhead-${randomUUID()}`);
    const directChains: (string | undefined)[] = ids.map(() => undefined);

    const workflowIds: string[] = [];
    const apiTurn = async (lane: number) => {
      const sent = await sendMessage(stack, api.url, ids[lane]!, TEXT);
      workflowIds[lane] = sent.workflowId!;
      if (sent.reply?.status !== 'answered' || !sent.reply.text?.startsWith('Tool results'))
        throw new Error(
          `turn-overhead: unexpected API answer ${sent.httpStatus} ${JSON.stringify(sent.reply)}`,
        );
      return sent.ms;
    };
    const directTurn = async (lane: number) => {
      const { ms } = await timed(async () => {
        const first = await openai.responses.create({
          model: MODEL,
          instructions: INSTRUCTIONS,
          input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: TEXT }] }],
          tools,
          tool_choice: 'auto',
          parallel_tool_calls: true,
          ...(directChains[lane] ? { previous_response_id: directChains[lane] } : {}),
        });
        const outputs = first.output.flatMap((item) =>
          item.type === 'function_call'
            ? [
                {
                  type: 'function_call_output' as const,
                  call_id: item.call_id,
                  output: weather(JSON.parse(item.arguments) as { city: string }),
                },
              ]
            : [],
        );
        if (outputs.length !== 1)
          throw new Error('turn-overhead: the direct path expected one function call');
        const second = await openai.responses.create({
          model: MODEL,
          instructions: INSTRUCTIONS,
          input: outputs,
          tools,
          previous_response_id: first.id,
        });
        directChains[lane] = second.id;
      });
      return ms;
    };
    const floorTurn = async () => {
      const { ms } = await timed(() =>
        stack.client.workflow.execute('floorWorkflow', {
          taskQueue: stack.floorTaskQueue,
          workflowId: `floor-${randomUUID()}`,
          args: ['hello'],
        }),
      );
      return ms;
    };

    // Warm-up: every conversation exists (its first turn also starts the workflow), JIT is warm.
    for (let lane = 0; lane < conversations; lane++) {
      await apiTurn(lane);
      await directTurn(lane);
      await floorTurn();
      await plainTurn(lane);
    }
    const a: number[] = [];
    const d: number[] = [];
    const f: number[] = [];
    const p: number[] = [];
    for (let i = 0; i < samples; i++) {
      const lane = i % conversations;
      a.push(await apiTurn(lane));
      d.push(await directTurn(lane));
      f.push(await floorTurn());
      p.push(await plainTurn(lane));
      if ((i + 1) % 50 === 0) log(`turn-overhead: ${i + 1}/${samples}`);
    }
    // Each conversation's last turn at full speed (before the slow-model samples below).
    const timings: TurnTiming[] = [];
    for (const id of workflowIds) {
      const history = await stack.client.workflow.getHandle(id).fetchHistory();
      const t = lastTurnTiming(history.events ?? []);
      if (t) timings.push(t);
    }
    const breakdown = Object.fromEntries(
      (Object.keys(timings[0]!) as (keyof TurnTiming)[]).map((k) => [
        k,
        round(median(timings.map((t) => t[k] ?? 0)), 1),
      ]),
    ) as unknown as TurnTiming;
    // The overhead in proportion: every model call takes 1 s (two per tool turn), as a real model might.
    const slowSamples = quick ? 3 : 8;
    const latencyMs = 1_000;
    stack.emulator.faults.add({ kind: 'latency', latencyMs, times: -1, match: { path: '^/v1/responses$' } });
    const sa: number[] = [];
    const sd: number[] = [];
    try {
      for (let i = 0; i < slowSamples; i++) {
        sa.push(await apiTurn(i % conversations));
        sd.push(await directTurn(i % conversations));
      }
    } finally {
      stack.emulator.faults.clear();
    }
    await api.stop();
    await plainApi.stop();
    const result = { api: percentiles(a), direct: percentiles(d), floor: percentiles(f) };
    const ratio = (x: Percentiles, y: Percentiles) => ({
      p50: round(x.p50 / y.p50),
      p95: round(x.p95 / y.p95),
      p99: round(x.p99 / y.p99),
    });
    return {
      samples,
      conversations,
      ...result,
      plain: percentiles(p),
      slowModel: { samples: slowSamples, latencyMs, api: percentiles(sa), direct: percentiles(sd) },
      breakdown,
      ratios: { apiToDirect: ratio(result.api, result.direct), apiToFloor: ratio(result.api, result.floor) },
    };
  },
};
