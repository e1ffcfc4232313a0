import type {
  AssistantsFixture,
  FunctionToolCall,
  MessageObject,
  RunObject,
  RunStepObject,
  TextAnnotation,
  ThreadObject,
} from './assistants.js';

/** Builders for Assistants wire objects, and a deterministic generator for large migration fixtures. */

export const GENERATED_EPOCH_SECONDS = 1_735_689_600; // 2025-01-01T00:00:00Z

export function buildThread(
  id: string,
  createdAt: number,
  metadata: Record<string, string> = {},
): ThreadObject {
  return { id, object: 'thread', created_at: createdAt, tool_resources: {}, metadata };
}

export function buildMessage(args: {
  id: string;
  threadId: string;
  createdAt: number;
  role: 'user' | 'assistant';
  text: string;
  annotations?: TextAnnotation[];
  assistantId?: string;
  runId?: string;
  metadata?: Record<string, string>;
}): MessageObject {
  return {
    id: args.id,
    object: 'thread.message',
    created_at: args.createdAt,
    thread_id: args.threadId,
    status: 'completed',
    incomplete_details: null,
    completed_at: args.role === 'assistant' ? args.createdAt : null,
    incomplete_at: null,
    role: args.role,
    content: [{ type: 'text', text: { value: args.text, annotations: args.annotations ?? [] } }],
    assistant_id: args.assistantId ?? null,
    run_id: args.runId ?? null,
    attachments: [],
    metadata: args.metadata ?? {},
  };
}

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

export function buildRun(args: {
  id: string;
  threadId: string;
  assistantId: string;
  createdAt: number;
  instructions: string;
  model?: string;
  metadata?: Record<string, string>;
  usage: { prompt_tokens: number; completion_tokens: number };
}): RunObject {
  return {
    id: args.id,
    object: 'thread.run',
    created_at: args.createdAt,
    thread_id: args.threadId,
    assistant_id: args.assistantId,
    status: 'completed',
    required_action: null,
    last_error: null,
    expires_at: null,
    started_at: args.createdAt,
    cancelled_at: null,
    failed_at: null,
    completed_at: args.createdAt + 2,
    incomplete_details: null,
    model: args.model ?? 'gpt-4o',
    instructions: args.instructions,
    tools: [WEATHER_TOOL],
    metadata: args.metadata ?? {},
    usage: { ...args.usage, total_tokens: args.usage.prompt_tokens + args.usage.completion_tokens },
    temperature: 1,
    top_p: 1,
    max_prompt_tokens: null,
    max_completion_tokens: null,
    truncation_strategy: { type: 'auto', last_messages: null },
    tool_choice: 'auto',
    parallel_tool_calls: true,
    response_format: 'auto',
  };
}

export function buildStep(args: {
  id: string;
  run: RunObject;
  createdAt: number;
  details: { messageId: string } | { toolCalls: FunctionToolCall[] };
}): RunStepObject {
  const tokens = { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 };
  return {
    id: args.id,
    object: 'thread.run.step',
    created_at: args.createdAt,
    assistant_id: args.run.assistant_id,
    thread_id: args.run.thread_id,
    run_id: args.run.id,
    type: 'messageId' in args.details ? 'message_creation' : 'tool_calls',
    status: 'completed',
    step_details:
      'messageId' in args.details
        ? { type: 'message_creation', message_creation: { message_id: args.details.messageId } }
        : { type: 'tool_calls', tool_calls: args.details.toolCalls },
    last_error: null,
    expired_at: null,
    cancelled_at: null,
    failed_at: null,
    completed_at: args.createdAt + 1,
    metadata: {},
    usage: tokens,
  };
}

/** mulberry32: small, fast, and stable across Node versions. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'order',
  'refund',
  'weather',
  'flight',
  'invoice',
  'password',
  'delivery',
  'meeting',
  'report',
  'budget',
  'recipe',
  'garden',
  'printer',
  'holiday',
  'contract',
  'library',
  'account',
  'schedule',
  'battery',
  'museum',
];
const CITIES = ['Lisbon', 'Oslo', 'Nairobi', 'Lima', 'Osaka', 'Tallinn', 'Quito', 'Perth'];

/**
 * Deterministic Assistants export: the same options give byte-identical output. Every assistant
 * message comes from a run; about a third of the runs call `get_weather` first, and every fifth
 * assistant message carries a file citation.
 */
export function generateAssistantsFixture(opts: {
  threads: number;
  messagesPerThread: number;
  seed?: number;
}): AssistantsFixture {
  const seed = opts.seed ?? 1;
  const rand = prng(seed);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const fixture: AssistantsFixture = { threads: [], messages: [], runs: [], steps: [] };
  const assistantId = `asst_${hex(24)}`;
  let clock = GENERATED_EPOCH_SECONDS;
  let assistantCount = 0;

  for (let t = 0; t < opts.threads; t++) {
    const threadId = `thread_${hex(24)}`;
    clock += 60;
    fixture.threads.push(
      buildThread(threadId, clock, { source: 'generated', index: String(t), seed: String(seed) }),
    );
    let lastUserText = '';
    for (let m = 0; m < opts.messagesPerThread; m++) {
      clock += 5;
      if (m % 2 === 0) {
        lastUserText = `Question ${m / 2 + 1} about my ${pick(WORDS)} and ${pick(WORDS)}?`;
        fixture.messages.push(
          buildMessage({
            id: `msg_${hex(24)}`,
            threadId,
            createdAt: clock,
            role: 'user',
            text: lastUserText,
          }),
        );
        continue;
      }
      const run = buildRun({
        id: `run_${hex(24)}`,
        threadId,
        assistantId,
        createdAt: clock,
        instructions: 'You are a helpful assistant.',
        usage: { prompt_tokens: 40 + m * 10, completion_tokens: 20 },
      });
      fixture.runs.push(run);
      const withTool = rand() < 1 / 3;
      if (withTool) {
        const city = pick(CITIES);
        fixture.steps.push(
          buildStep({
            id: `step_${hex(24)}`,
            run,
            createdAt: clock,
            details: {
              toolCalls: [
                {
                  id: `call_${hex(24)}`,
                  type: 'function',
                  function: {
                    name: 'get_weather',
                    arguments: JSON.stringify({ city }),
                    output: JSON.stringify({ city, temp_c: 10 + Math.floor(rand() * 20) }),
                  },
                },
              ],
            },
          }),
        );
      }
      const messageId = `msg_${hex(24)}`;
      const cite = assistantCount++ % 5 === 4;
      const text = `Answer to "${lastUserText}"${withTool ? ' (checked the weather)' : ''}${cite ? ' See the handbook.' : ''}`;
      const citation = ' See the handbook.';
      fixture.messages.push(
        buildMessage({
          id: messageId,
          threadId,
          createdAt: clock + 1,
          role: 'assistant',
          text,
          assistantId,
          runId: run.id,
          annotations: cite
            ? [
                {
                  type: 'file_citation',
                  text: citation,
                  start_index: text.length - citation.length,
                  end_index: text.length,
                  file_citation: { file_id: `file-${hex(22)}` },
                },
              ]
            : [],
        }),
      );
      fixture.steps.push(
        buildStep({ id: `step_${hex(24)}`, run, createdAt: clock + 1, details: { messageId } }),
      );
    }
  }
  return fixture;
}
