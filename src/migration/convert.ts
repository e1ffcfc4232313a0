/**
 * Source objects to transcript items in the Responses wire shape. Pure: the activities fetch the
 * objects and write the result. Every item gets an `itemKey` derived from source ids only, so the
 * same source migrated twice (by any migration) maps to the same keys and `appendItems` skips them.
 */

export interface MigratedItem {
  itemKey: string;
  item: Record<string, unknown>;
  /** What the source had beyond the wire shape (annotations, ids, times); kept in migrated_item_metadata. */
  metadata: Record<string, unknown>;
}

// Minimal Assistants wire shapes: only the fields the conversion reads.
export interface AssistantsMessage {
  id: string;
  thread_id: string;
  created_at: number;
  role: string;
  run_id?: string | null;
  assistant_id?: string | null;
  metadata?: Record<string, unknown> | null;
  content: {
    type: string;
    text?: { value: string; annotations?: unknown[] };
    image_file?: { file_id: string };
    image_url?: { url: string };
  }[];
}

export interface AssistantsRunStep {
  id: string;
  run_id: string;
  created_at: number;
  type: string;
  step_details: {
    type: string;
    tool_calls?: {
      id: string;
      type: string;
      function?: { name: string; arguments: string; output: string | null };
    }[];
  };
}

export interface Conversion {
  items: MigratedItem[];
  /** Things the transcript cannot hold (images, built-in tool calls), said once each. */
  notes: string[];
}

/**
 * A thread's messages (any order) and its runs' steps, in chronological order: each run's tool
 * calls and outputs come right before the first message that run created.
 */
export function convertThread(
  messages: readonly AssistantsMessage[],
  steps: readonly AssistantsRunStep[] = [],
): Conversion {
  const notes = new Set<string>();
  const ordered = [...messages].sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
  const toolStepsByRun = new Map<string, AssistantsRunStep[]>();
  for (const step of [...steps].sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id))) {
    if (step.step_details.type !== 'tool_calls') continue;
    const list = toolStepsByRun.get(step.run_id) ?? [];
    list.push(step);
    toolStepsByRun.set(step.run_id, list);
  }
  const items: MigratedItem[] = [];
  const runsPlaced = new Set<string>();
  for (const message of ordered) {
    if (message.run_id && !runsPlaced.has(message.run_id)) {
      runsPlaced.add(message.run_id);
      for (const step of toolStepsByRun.get(message.run_id) ?? []) items.push(...toolCallItems(step, notes));
    }
    const item = messageItem(message, notes);
    if (item) items.push(item);
  }
  return { items, notes: [...notes] };
}

function messageItem(message: AssistantsMessage, notes: Set<string>): MigratedItem | undefined {
  const assistant = message.role === 'assistant';
  const parts: Record<string, unknown>[] = [];
  const annotations: unknown[] = [];
  for (const part of message.content) {
    if (part.type === 'text' && part.text) {
      parts.push(
        assistant
          ? { type: 'output_text', text: part.text.value, annotations: [], logprobs: [] }
          : { type: 'input_text', text: part.text.value },
      );
      annotations.push(...(part.text.annotations ?? []));
    } else if (part.type === 'image_url' && part.image_url && !assistant) {
      parts.push({ type: 'input_image', image_url: part.image_url.url, detail: 'auto' });
    } else if (part.type === 'image_file' && part.image_file && !assistant) {
      parts.push({ type: 'input_image', file_id: part.image_file.file_id, detail: 'auto' });
    } else {
      notes.add(`a ${message.role} ${part.type} part was left out`);
    }
  }
  if (parts.length === 0) return undefined;
  const item: Record<string, unknown> = assistant
    ? { type: 'message', role: 'assistant', status: 'completed', content: parts }
    : { type: 'message', role: 'user', content: parts };
  // Assistants annotations point into the text by offsets and have no Responses equivalent for
  // input; they are kept beside the item rather than sent back to the model.
  const metadata: Record<string, unknown> = {
    source: 'assistants',
    threadId: message.thread_id,
    messageId: message.id,
    createdAt: message.created_at,
    ...(message.run_id ? { runId: message.run_id } : {}),
    ...(message.assistant_id ? { assistantId: message.assistant_id } : {}),
    ...(annotations.length ? { annotations } : {}),
    ...(message.metadata && Object.keys(message.metadata).length ? { metadata: message.metadata } : {}),
  };
  return { itemKey: `mig/asst/${message.id}`, item, metadata };
}

function toolCallItems(step: AssistantsRunStep, notes: Set<string>): MigratedItem[] {
  const items: MigratedItem[] = [];
  for (const call of step.step_details.tool_calls ?? []) {
    if (call.type !== 'function' || !call.function) {
      notes.add(`a ${call.type} tool call was left out (no Responses function-call equivalent)`);
      continue;
    }
    // A call without its output would make the next request fail ("No tool output found").
    if (call.function.output === null) {
      notes.add('a function call without a recorded output was left out');
      continue;
    }
    const metadata = {
      source: 'assistants',
      runId: step.run_id,
      stepId: step.id,
      createdAt: step.created_at,
    };
    items.push(
      {
        itemKey: `mig/asst/${step.id}/${call.id}/call`,
        item: {
          type: 'function_call',
          call_id: call.id,
          name: call.function.name,
          arguments: call.function.arguments,
          status: 'completed',
        },
        metadata,
      },
      {
        itemKey: `mig/asst/${step.id}/${call.id}/output`,
        item: { type: 'function_call_output', call_id: call.id, output: call.function.output },
        metadata,
      },
    );
  }
  return items;
}

/** One response of a chain: its own input items, then its output items. */
export interface ChainLink {
  responseId: string;
  createdAt: number | null;
  input: Record<string, unknown>[];
  output: Record<string, unknown>[];
}

/** Links newest first (as walked back from the last response) to items oldest first. */
export function convertChain(linksNewestFirst: readonly ChainLink[]): MigratedItem[] {
  const items: MigratedItem[] = [];
  for (const link of [...linksNewestFirst].reverse()) {
    const meta = (originalId: unknown) => ({
      source: 'response_chain',
      responseId: link.responseId,
      ...(typeof originalId === 'string' ? { itemId: originalId } : {}),
      ...(link.createdAt !== null ? { createdAt: link.createdAt } : {}),
    });
    link.input.forEach((raw, i) =>
      items.push({
        itemKey: `mig/resp/${link.responseId}/in/${i}`,
        item: wireItem(raw),
        metadata: meta(raw.id),
      }),
    );
    link.output.forEach((raw, i) =>
      items.push({
        itemKey: `mig/resp/${link.responseId}/out/${i}`,
        item: wireItem(raw),
        metadata: meta(raw.id),
      }),
    );
  }
  return items;
}

// Server-side item ids belong to responses that will expire; the transcript keeps the content.
function wireItem(raw: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, ...rest } = raw;
  if (rest.type === undefined && typeof rest.role === 'string') return { type: 'message', ...rest };
  return rest;
}

export interface TableRow {
  id: string;
  role: string;
  content: string;
  createdAt: string | null;
}

/** Legacy message rows (already ordered) to items; rows with an unknown role are left out. */
export function convertTableRows(table: string, rows: readonly TableRow[]): Conversion {
  const notes = new Set<string>();
  const items: MigratedItem[] = [];
  for (const row of rows) {
    const role = row.role.toLowerCase();
    const metadata = { source: 'messages_table', table, rowId: row.id, createdAt: row.createdAt };
    const itemKey = `mig/table/${table}/${row.id}`;
    if (role === 'assistant') {
      items.push({
        itemKey,
        item: {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: row.content, annotations: [], logprobs: [] }],
        },
        metadata,
      });
    } else if (role === 'user' || role === 'system' || role === 'developer') {
      items.push({
        itemKey,
        item: { type: 'message', role, content: [{ type: 'input_text', text: row.content }] },
        metadata,
      });
    } else {
      notes.add(`rows with role '${row.role}' were left out`);
    }
  }
  return { items, notes: [...notes] };
}
