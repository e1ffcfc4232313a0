import type OpenAI from 'openai';

/**
 * Between the transcript's Responses wire items and Chat Completions messages, both ways. Pure.
 * Chat Completions has no item ids, no reasoning items and no `developer` role everywhere (many
 * compatible providers reject it), so developer messages become system messages.
 */

type Item = Record<string, unknown>;
type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam;

function partsText(content: unknown): string {
  if (typeof content === 'string') return content;
  return (Array.isArray(content) ? content : [])
    .map((p: { text?: unknown }) => (typeof p.text === 'string' ? p.text : ''))
    .join('');
}

type UserPart = OpenAI.Chat.ChatCompletionContentPart;

/**
 * A user message's content: a string when it is all text (what every compatible provider takes),
 * else content parts, media included: `input_image` -> `image_url` (its data URL or https URL;
 * Chat Completions has no `original` detail, the nearest is `high`), `input_file` -> `file`
 * (`file_data` data URL with its filename, or `file_id`). A file URL has no Chat Completions form:
 * the model gets a line naming it rather than nothing.
 */
function userContent(content: unknown): string | UserPart[] {
  const parts = (Array.isArray(content) ? content : []) as Record<string, unknown>[];
  if (typeof content === 'string' || parts.every((p) => p.type !== 'input_image' && p.type !== 'input_file'))
    return partsText(content);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const out = parts.flatMap((p): UserPart[] => {
    if (p.type === 'input_image') {
      const url = str(p.image_url);
      if (!url) return str(p.file_id) ? [{ type: 'text', text: `[image ${str(p.file_id)}]` }] : [];
      const detail =
        p.detail === 'low' || p.detail === 'high' ? p.detail : p.detail === 'original' ? 'high' : 'auto';
      return [{ type: 'image_url', image_url: { url, detail } }];
    }
    if (p.type === 'input_file') {
      const filename = str(p.filename);
      const fileData = str(p.file_data);
      if (fileData) return [{ type: 'file', file: { filename: filename ?? 'file', file_data: fileData } }];
      if (str(p.file_id)) return [{ type: 'file', file: { file_id: str(p.file_id)! } }];
      if (str(p.file_url))
        return [{ type: 'text', text: `[file ${filename ?? 'file'}: ${str(p.file_url)}]` }];
      return [];
    }
    return typeof p.text === 'string' ? [{ type: 'text', text: p.text }] : [];
  });
  return out.length ? out : '';
}

export function toChatMessages(instructions: string | null, items: readonly Item[]): ChatMessage[] {
  const messages: ChatMessage[] = instructions ? [{ role: 'system', content: instructions }] : [];
  // Consecutive function calls (and the assistant text just before them) are one assistant message.
  let assistant: OpenAI.Chat.ChatCompletionAssistantMessageParam | null = null;
  const flush = () => {
    if (assistant) messages.push(assistant);
    assistant = null;
  };
  for (const item of items) {
    if (item.type === 'message' && item.role === 'assistant') {
      flush();
      assistant = { role: 'assistant', content: partsText(item.content) };
    } else if (item.type === 'function_call') {
      assistant ??= { role: 'assistant', content: null };
      assistant.tool_calls = [
        ...(assistant.tool_calls ?? []),
        {
          id: String(item.call_id),
          type: 'function',
          function: { name: String(item.name), arguments: String(item.arguments) },
        },
      ];
    } else if (item.type === 'function_call_output') {
      flush();
      messages.push({
        role: 'tool',
        tool_call_id: String(item.call_id),
        content: typeof item.output === 'string' ? item.output : JSON.stringify(item.output),
      });
    } else if (item.type === 'message' && item.role === 'user') {
      flush();
      messages.push({ role: 'user', content: userContent(item.content) });
    } else if (item.type === 'message') {
      flush();
      messages.push({ role: 'system', content: partsText(item.content) });
    }
    // Other item types (reasoning, hosted tools) have no Chat Completions form and are left out.
  }
  flush();
  return messages;
}

export function toChatTools(
  tools: readonly { name: string; description: string; parameters: unknown; strict: boolean }[],
): OpenAI.Chat.ChatCompletionTool[] {
  return tools.map((t) => ({
    type: 'function',
    function: {
      name: t.name,
      description: t.description,
      parameters: t.parameters as Record<string, unknown>,
      strict: t.strict,
    },
  }));
}

/** A completion's choice as Responses output items, ids derived from the completion's. */
export function fromChatCompletion(completion: OpenAI.Chat.ChatCompletion): Item[] {
  const message = completion.choices[0]?.message;
  if (!message) return [];
  const items: Item[] = [];
  if (message.content) {
    items.push({
      type: 'message',
      id: `msg_${completion.id}`,
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: message.content, annotations: [] }],
    });
  }
  for (const call of message.tool_calls ?? []) {
    if (call.type !== 'function') continue;
    items.push({
      type: 'function_call',
      id: `fc_${call.id}`,
      call_id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
      status: 'completed',
    });
  }
  return items;
}
