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
    const samples = quick ? 40 : 200;
    const conversations = 10;
    const api = await startApi(stack, AGENTS.tools);
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
    }
    const a: number[] = [];
    const d: number[] = [];
    const f: number[] = [];
    for (let i = 0; i < samples; i++) {
      const lane = i % conversations;
      a.push(await apiTurn(lane));
      d.push(await directTurn(lane));
      f.push(await floorTurn());
      if ((i + 1) % 100 === 0) log(`turn-overhead: ${i + 1}/${samples}`);
    }
    await api.stop();
    const timings: TurnTiming[] = [];
    for (const id of workflowIds) {
      const history = await stack.client.workflow.getHandle(id).fetchHistory();
      const t = lastTurnTiming(history.events ?? []);
      if (t) timings.push(t);
    }
    const breakdown = Object.fromEntries(
      (Object.keys(timings[0]!) as (keyof TurnTiming)[]).map((k) => [
        k,
        round(median(timings.map((t) => t[k])), 1),
      ]),
    ) as unknown as TurnTiming;
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
      breakdown,
      ratios: { apiToDirect: ratio(result.api, result.direct), apiToFloor: ratio(result.api, result.floor) },
    };
  },
};
