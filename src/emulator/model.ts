import type { Item } from './items.js';

/**
 * The scripted model: a deterministic, pure function from the effective context to output.
 * Its rules are documented in docs/emulator.md; tests elsewhere parse its replies, so the
 * formats below are a contract.
 */

export interface FunctionToolDef {
  type: 'function';
  name: string;
  description?: string | null;
  parameters?: Record<string, unknown> | null;
  strict?: boolean | null;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; name: string };

export interface ModelInput {
  context: readonly Item[];
  instructions: string | null;
  tools: readonly FunctionToolDef[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
}

export type PlannedOutput =
  { kind: 'text'; text: string } | { kind: 'function_call'; name: string; arguments: string };

export const FIRST_MESSAGE_PREVIEW_CHARS = 60;

export function runModel(input: ModelInput): PlannedOutput[] {
  const { context } = input;
  const trailingOutputs = trailingFunctionOutputs(context);
  const looping = /\bkeep calling\b/i.test(userTexts(context).at(-1) ?? '') && input.toolChoice !== 'none';
  // A handoff's output is not a result to report: the agent it handed to answers the user, as a
  // live model given the next agent's instructions and tools does.
  const handedOff = trailingOutputs.length > 0 && trailingOutputs.every((o) => isHandoffOutput(context, o));
  if (trailingOutputs.length > 0 && !looping && !handedOff) {
    return [{ kind: 'text', text: toolResultsText(context, trailingOutputs) }];
  }

  const calls = planToolCalls(input);
  if (calls.length > 0) return calls;

  const rawJson = rawToolJson(input);
  if (rawJson) return [{ kind: 'text', text: rawJson }];

  return [{ kind: 'text', text: echoText(input) }];
}

export const latestUserText = (context: readonly Item[]): string => userTexts(context).at(-1) ?? '';

const userTexts = (context: readonly Item[]): string[] =>
  context.flatMap((item) =>
    item.type === 'message' && item.role === 'user' ? [item.content.map((p) => p.text).join('')] : [],
  );

function lastUserIndex(context: readonly Item[]): number {
  for (let i = context.length - 1; i >= 0; i--) {
    const item = context[i];
    if (item?.type === 'message' && item.role === 'user') return i;
  }
  return -1;
}

/** The Agents SDK's name for a handoff tool (src/agents/handoff.ts). */
const HANDOFF_PREFIX = 'transfer_to_';

function isHandoffOutput(
  context: readonly Item[],
  output: Extract<Item, { type: 'function_call_output' }>,
): boolean {
  return context.some(
    (i) => i.type === 'function_call' && i.call_id === output.call_id && i.name.startsWith(HANDOFF_PREFIX),
  );
}

function trailingFunctionOutputs(
  context: readonly Item[],
): Extract<Item, { type: 'function_call_output' }>[] {
  const out: Extract<Item, { type: 'function_call_output' }>[] = [];
  for (let i = context.length - 1; i >= 0; i--) {
    const item = context[i];
    if (item?.type !== 'function_call_output') break;
    out.unshift(item);
  }
  return out;
}

/** `Tool results: get_weather -> {"temp":21}; get_time -> 12:00.` */
export function toolResultsText(
  context: readonly Item[],
  outputs: readonly Extract<Item, { type: 'function_call_output' }>[],
): string {
  const nameByCallId = new Map<string, string>();
  for (const item of context) if (item.type === 'function_call') nameByCallId.set(item.call_id, item.name);
  const parts = outputs.map((o) => {
    const output = typeof o.output === 'string' ? o.output : JSON.stringify(o.output);
    return `${nameByCallId.get(o.call_id) ?? o.call_id} -> ${output}`;
  });
  return `Tool results: ${parts.join('; ')}.`;
}

/** `You said: "<latest>" [context: <n> user messages; first: "<first 60>"; instructions: yes|no]` */
export function echoText(input: Pick<ModelInput, 'context' | 'instructions'>): string {
  const texts = userTexts(input.context);
  const latest = texts[texts.length - 1] ?? '';
  const first = Array.from(texts[0] ?? '')
    .slice(0, FIRST_MESSAGE_PREVIEW_CHARS)
    .join('');
  const hasInstructions =
    (input.instructions !== null && input.instructions.length > 0) ||
    input.context.some((i) => i.type === 'message' && (i.role === 'system' || i.role === 'developer'));
  return `You said: "${latest}" [context: ${texts.length} user messages; first: "${first}"; instructions: ${hasInstructions ? 'yes' : 'no'}]`;
}

function planToolCalls(input: ModelInput): PlannedOutput[] {
  const { context, tools, toolChoice } = input;
  if (toolChoice === 'none' || tools.length === 0) return [];
  const userIdx = lastUserIndex(context);
  if (userIdx < 0) return [];
  const text = userTexts(context).at(-1) ?? '';
  // Once the current user turn has any tool output, the model answers instead of looping, unless
  // the user asks it to `keep calling` (a rule for testing tool round limits).
  const looping = /\bkeep calling\b/i.test(text);
  const turnOutputs = context
    .slice(userIdx + 1)
    .filter((i): i is Extract<Item, { type: 'function_call_output' }> => i.type === 'function_call_output');
  // Handoff outputs do not end the turn's tool calls (the next agent's own tools may follow), but
  // after one the turn never transfers again: no agent ping-pong.
  const handedOff = turnOutputs.some((o) => isHandoffOutput(context, o));
  if (!looping && turnOutputs.some((o) => !isHandoffOutput(context, o))) return [];

  const named = findToolMentions(
    text,
    tools.map((t) => t.name).filter((n) => !(handedOff && n.startsWith(HANDOFF_PREFIX))),
  );
  let chosen: { name: string; args: Record<string, unknown> | undefined }[];
  if (typeof toolChoice === 'object') {
    const mention = named.find((m) => m.name === toolChoice.name);
    chosen = tools.some((t) => t.name === toolChoice.name)
      ? [{ name: toolChoice.name, args: mention?.args }]
      : [];
  } else if (named.length > 0) {
    chosen = named;
  } else if (toolChoice === 'required') {
    chosen = [{ name: tools[0]!.name, args: undefined }];
  } else {
    chosen = [];
  }
  if (!input.parallelToolCalls) chosen = chosen.slice(0, 1);

  return chosen.map(({ name, args }) => {
    const tool = tools.find((t) => t.name === name);
    return {
      kind: 'function_call',
      name,
      arguments: JSON.stringify(args ?? placeholderArguments(tool?.parameters ?? null)),
    };
  });
}

/**
 * `raw json` in the latest user text makes the model write a tool call out as JSON text instead of
 * calling it (the mistake an output guard exists for). Not when tools are forbidden
 * (tool_choice 'none'), so a rewrite request gets a plain answer.
 */
function rawToolJson(input: ModelInput): string | undefined {
  const text = userTexts(input.context).at(-1) ?? '';
  const tool = input.tools[0];
  if (!tool || input.toolChoice === 'none' || !/\braw json\b/i.test(text)) return undefined;
  return JSON.stringify({ name: tool.name, arguments: placeholderArguments(tool.parameters ?? null) });
}

/** Finds `call <name>` for offered names, in text order, each with an optional `{...}` JSON object after it. */
export function findToolMentions(
  text: string,
  toolNames: readonly string[],
): { name: string; args: Record<string, unknown> | undefined }[] {
  const offered = new Set(toolNames);
  const mentions: { name: string; args: Record<string, unknown> | undefined }[] = [];
  for (const match of text.matchAll(/\bcall\s+([A-Za-z0-9_-]+)/g)) {
    const name = match[1]!;
    if (!offered.has(name)) continue;
    mentions.push({ name, args: leadingJsonObject(text.slice((match.index ?? 0) + match[0].length)) });
  }
  return mentions;
}

/** Parses a JSON object that starts the text (after blanks, an optional `with`, or `:`). */
export function leadingJsonObject(text: string): Record<string, unknown> | undefined {
  const start = /^\s*(?:with\s+|:\s*)?\{/.exec(text);
  if (!start) return undefined;
  const open = start[0].length - 1;
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) {
      try {
        const parsed: unknown = JSON.parse(text.slice(open, i + 1));
        return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
          ? (parsed as Record<string, unknown>)
          : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Placeholder arguments: each required property gets a simple value of its declared type. */
export function placeholderArguments(schema: Record<string, unknown> | null): Record<string, unknown> {
  if (!schema) return {};
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const args: Record<string, unknown> = {};
  for (const key of required) args[key] = placeholderValue(key, properties[key] ?? {});
  return args;
}

function placeholderValue(key: string, schema: Record<string, unknown>): unknown {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string':
      return `<${key}>`;
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return placeholderArguments(schema);
    case 'null':
      return null;
    default:
      return `<${key}>`;
  }
}
