import { notFound } from './errors.js';
import { paginate, parseListQuery, type SortOrder } from './pagination.js';

/**
 * Read-only Assistants API (threads, messages, runs, run steps) served from a fixture, the
 * way the data survives after the sunset: as an export of wire objects.
 */

export interface TextAnnotation {
  type: 'file_citation' | 'file_path';
  text: string;
  start_index: number;
  end_index: number;
  file_citation?: { file_id: string };
  file_path?: { file_id: string };
}

export interface ThreadObject {
  id: string;
  object: 'thread';
  created_at: number;
  tool_resources: Record<string, unknown> | null;
  metadata: Record<string, string>;
}

export interface MessageObject {
  id: string;
  object: 'thread.message';
  created_at: number;
  thread_id: string;
  status: 'completed' | 'incomplete' | 'in_progress';
  incomplete_details: null | { reason: string };
  completed_at: number | null;
  incomplete_at: number | null;
  role: 'user' | 'assistant';
  content: { type: 'text'; text: { value: string; annotations: TextAnnotation[] } }[];
  assistant_id: string | null;
  run_id: string | null;
  attachments: unknown[] | null;
  metadata: Record<string, string>;
}

export interface FunctionToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string; output: string | null };
}

export interface RunStepObject {
  id: string;
  object: 'thread.run.step';
  created_at: number;
  assistant_id: string;
  thread_id: string;
  run_id: string;
  type: 'message_creation' | 'tool_calls';
  status: 'completed' | 'in_progress' | 'cancelled' | 'failed' | 'expired';
  step_details:
    | { type: 'message_creation'; message_creation: { message_id: string } }
    | { type: 'tool_calls'; tool_calls: FunctionToolCall[] };
  last_error: null | { code: string; message: string };
  expired_at: number | null;
  cancelled_at: number | null;
  failed_at: number | null;
  completed_at: number | null;
  metadata: Record<string, string>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

export interface RunObject {
  id: string;
  object: 'thread.run';
  created_at: number;
  thread_id: string;
  assistant_id: string;
  status: string;
  required_action: null;
  last_error: null | { code: string; message: string };
  expires_at: number | null;
  started_at: number | null;
  cancelled_at: number | null;
  failed_at: number | null;
  completed_at: number | null;
  incomplete_details: null | { reason: string };
  model: string;
  instructions: string;
  tools: {
    type: 'function';
    function: { name: string; description?: string; parameters?: Record<string, unknown> };
  }[];
  metadata: Record<string, string>;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  temperature: number | null;
  top_p: number | null;
  max_prompt_tokens: number | null;
  max_completion_tokens: number | null;
  truncation_strategy: { type: 'auto' | 'last_messages'; last_messages: number | null };
  tool_choice: unknown;
  parallel_tool_calls: boolean;
  response_format: unknown;
}

export interface AssistantsFixture {
  threads: ThreadObject[];
  messages: MessageObject[];
  runs: RunObject[];
  steps: RunStepObject[];
}

const byCreatedAt = <T extends { created_at: number }>(items: T[]): T[] =>
  items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => a.item.created_at - b.item.created_at || a.i - b.i)
    .map((x) => x.item);

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

export class AssistantsService {
  private readonly threads: ThreadObject[];
  private readonly threadById: Map<string, ThreadObject>;
  private readonly messagesByThread: Map<string, MessageObject[]>;
  private readonly runsByThread: Map<string, RunObject[]>;
  private readonly stepsByRun: Map<string, RunStepObject[]>;

  constructor(fixture: AssistantsFixture) {
    this.threads = byCreatedAt([...fixture.threads]);
    this.threadById = new Map(this.threads.map((t) => [t.id, t]));
    this.messagesByThread = groupBy(byCreatedAt([...fixture.messages]), (m) => m.thread_id);
    this.runsByThread = groupBy(byCreatedAt([...fixture.runs]), (r) => r.thread_id);
    this.stepsByRun = groupBy(byCreatedAt([...fixture.steps]), (s) => s.run_id);
  }

  get threadCount(): number {
    return this.threads.length;
  }

  listThreads(query: Record<string, unknown>, defaultOrder: SortOrder = 'asc') {
    return paginate(this.threads, parseListQuery(query, { order: defaultOrder }), (t) => t.id);
  }

  thread(id: string): ThreadObject {
    const thread = this.threadById.get(id);
    if (!thread) throw notFound(`No thread found with id '${id}'.`);
    return thread;
  }

  listMessages(threadId: string, query: Record<string, unknown>) {
    this.thread(threadId);
    let messages = this.messagesByThread.get(threadId) ?? [];
    if (typeof query.run_id === 'string') messages = messages.filter((m) => m.run_id === query.run_id);
    return paginate(messages, parseListQuery(query), (m) => m.id);
  }

  message(threadId: string, messageId: string): MessageObject {
    this.thread(threadId);
    const message = this.messagesByThread.get(threadId)?.find((m) => m.id === messageId);
    if (!message) throw notFound(`No message found with id '${messageId}'.`);
    return message;
  }

  listRuns(threadId: string, query: Record<string, unknown>) {
    this.thread(threadId);
    return paginate(this.runsByThread.get(threadId) ?? [], parseListQuery(query), (r) => r.id);
  }

  run(threadId: string, runId: string): RunObject {
    this.thread(threadId);
    const run = this.runsByThread.get(threadId)?.find((r) => r.id === runId);
    if (!run) throw notFound(`No run found with id '${runId}'.`);
    return run;
  }

  listSteps(threadId: string, runId: string, query: Record<string, unknown>) {
    this.run(threadId, runId);
    return paginate(this.stepsByRun.get(runId) ?? [], parseListQuery(query), (s) => s.id);
  }
}
