import type { EmulatorClock } from './clock.js';
import { toUnixSeconds } from './clock.js';
import type { ConversationService } from './conversations.js';
import {
  ApiError,
  contextLengthExceeded,
  encryptedContentNotVerified,
  invalidRequest,
  itemNotPersisted,
  invalidType,
  invalidValue,
  missingParameter,
  previousResponseNotFound,
  responseNotFound,
  unsupportedParameter,
} from './errors.js';
import { newId } from './ids.js';
import { isUserMessage, normalizeInput, type Item } from './items.js';
import {
  CONTENT_FILTER_PHRASE,
  generate,
  REASONING_EFFORTS,
  reasoningTokensFor,
  type ReasoningEffort,
} from './generation.js';
import { latestUserText, runModel, type FunctionToolDef, type ToolChoice } from './model.js';
import { unseal } from './sealed.js';
import { invalidFunctionParameters, strictSchemaProblem } from './strictSchema.js';
import { paginate, parseListQuery } from './pagination.js';
import type { EmulatorState, StoredResponse } from './state.js';
import { compact, defaultCompactThreshold, windowOf } from './context.js';
import { UNSUPPORTED_PARAMETERS, type ModelFamily, type ModelRegistry } from './models.js';
import { instructionTokens, itemsTokens, usageOf } from './tokens.js';
import { isRecord, parseMetadata, rejectUnknownParameters } from './validation.js';

/** Top-level parameters of the spec's CreateResponse body; anything else is an unknown parameter. */
const KNOWN_PARAMETERS = new Set([
  'model',
  'input',
  'instructions',
  'previous_response_id',
  'conversation',
  'store',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'metadata',
  'max_output_tokens',
  'max_tool_calls',
  'temperature',
  'top_p',
  'top_logprobs',
  'text',
  'reasoning',
  'include',
  'truncation',
  'user',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
  'stream',
  'stream_options',
  'background',
  'prompt',
  'moderation',
  'context_management',
]);

/** Top-level parameters of the spec's CompactResponseMethodPublicBody. */
const COMPACT_PARAMETERS = new Set([
  'model',
  'input',
  'previous_response_id',
  'instructions',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
]);

export const DAY_MS = 24 * 60 * 60 * 1000;

export class ResponseService {
  constructor(
    private readonly state: EmulatorState,
    private readonly clock: EmulatorClock,
    private readonly conversations: ConversationService,
    private readonly retentionMs: number,
    private readonly models: ModelRegistry,
  ) {}

  create(rawBody: unknown): Record<string, unknown> {
    if (!isRecord(rawBody)) throw invalidType('body', 'an object', rawBody);
    const body = rawBody;
    rejectUnknownParameters(body, KNOWN_PARAMETERS);
    // `stream: true` is answered by the HTTP layer as server-sent events of this same response.
    if (body.stream !== undefined && typeof body.stream !== 'boolean' && body.stream !== null)
      throw invalidType('stream', 'a boolean', body.stream);
    if (body.background === true) {
      throw invalidRequest(
        "The Threadline emulator does not support 'background': true.",
        'background',
        'unsupported_value',
      );
    }
    if (body.model === undefined || body.model === null) throw missingParameter('model');
    if (typeof body.model !== 'string') throw invalidType('model', 'a string', body.model);
    const metadata = parseMetadata(body.metadata);
    const store = optionalBoolean(body, 'store') ?? true;
    const parallelToolCalls = optionalBoolean(body, 'parallel_tool_calls') ?? true;
    const instructions = optionalString(body, 'instructions') ?? null;
    const tools = parseTools(body.tools);
    const toolChoice = parseToolChoice(body.tool_choice, tools);
    const temperature = optionalNumber(body, 'temperature', 0, 2);
    const topP = optionalNumber(body, 'top_p', 0, 1);
    const maxOutputTokens = optionalNumber(body, 'max_output_tokens', 16, Number.MAX_SAFE_INTEGER);
    const previousId = optionalString(body, 'previous_response_id');
    const conversationId = parseConversationParam(body.conversation);

    if (previousId !== undefined && conversationId !== undefined) {
      throw invalidRequest(
        "Mutually exclusive parameters: 'previous_response_id' and 'conversation'. Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
        null,
        'mutually_exclusive_parameters',
      );
    }
    if (body.input === undefined && previousId === undefined && conversationId === undefined) {
      throw missingParameter('input');
    }

    const profile = this.models.profile(body.model);
    assertSupported(body, profile.family);
    const reasoning = parseReasoning(body.reasoning);
    const include = parseInclude(body.include);
    const contextManagement = parseContextManagement(body.context_management, profile.contextWindowTokens);

    let priorItems: Item[] = [];
    if (previousId !== undefined) priorItems = this.chainContext(this.liveStored(previousId, true));
    const conversation =
      conversationId !== undefined ? this.conversations.require(conversationId) : undefined;
    if (conversation) priorItems = [...conversation.items];

    const takenIds = new Set(conversation?.items.map((i) => i.id) ?? []);
    const newItems = body.input === undefined ? [] : normalizeInput(body.input, 'input', takenIds);
    this.assertReasoningInputs(newItems, store);
    const context = [...priorItems, ...newItems];
    assertToolOutputsPaired(context);

    // The window is what the model is charged for and what must fit; compaction shrinks it.
    const output: Item[] = [];
    let window = windowOf(context);
    if (contextManagement && windowTokens(window, instructions) >= contextManagement.compactThreshold) {
      const compaction = compact(window);
      output.push(compaction);
      window = windowOf([...window, compaction]);
    }
    const inputTokens = windowTokens(window, instructions);
    if (inputTokens > profile.contextWindowTokens) throw contextLengthExceeded();
    const prior = new Set<Item>(priorItems);
    const cachedTokens = itemsTokens(window.filter((i) => prior.has(i)));

    const generation = generate({
      planned: runModel({ context, instructions, tools, toolChoice, parallelToolCalls }),
      reasoningTokens:
        profile.family === 'reasoning' && profile.reasoningItems
          ? reasoningTokensFor(reasoning.effort ?? 'medium', inputTokens, profile.reasoningTokens)
          : null,
      includeEncryptedReasoning: include.includes('reasoning.encrypted_content'),
      maxOutputTokens,
      contentFilter: latestUserText(context).toLowerCase().includes(CONTENT_FILTER_PHRASE),
    });
    output.push(...generation.items);

    const nowMs = this.clock.now();
    const createdAt = toUnixSeconds(nowMs);
    const response = {
      id: newId('resp'),
      object: 'response',
      created_at: createdAt,
      status: generation.incomplete ? 'incomplete' : 'completed',
      background: false,
      completed_at: generation.incomplete ? null : createdAt,
      conversation: conversation ? { id: conversation.id } : null,
      error: null,
      incomplete_details: generation.incomplete ? { reason: generation.incomplete } : null,
      instructions,
      max_output_tokens: maxOutputTokens ?? null,
      max_tool_calls: typeof body.max_tool_calls === 'number' ? body.max_tool_calls : null,
      model: body.model,
      output,
      parallel_tool_calls: parallelToolCalls,
      previous_response_id: previousId ?? null,
      prompt_cache_key: typeof body.prompt_cache_key === 'string' ? body.prompt_cache_key : null,
      reasoning: {
        effort: reasoning.effort ?? (profile.family === 'reasoning' ? 'medium' : null),
        summary: reasoning.summary ?? null,
      },
      safety_identifier: typeof body.safety_identifier === 'string' ? body.safety_identifier : null,
      service_tier: 'default',
      store,
      temperature: temperature ?? 1,
      text: isRecord(body.text)
        ? { format: { type: 'text' }, verbosity: 'medium', ...body.text }
        : { format: { type: 'text' }, verbosity: 'medium' },
      tool_choice: toolChoice,
      tools,
      top_logprobs: typeof body.top_logprobs === 'number' ? body.top_logprobs : 0,
      top_p: topP ?? 1,
      truncation: body.truncation === 'auto' ? 'auto' : 'disabled',
      usage: usageOf(
        inputTokens,
        cachedTokens,
        itemsTokens(output.filter((i) => i.type === 'compaction')) + generation.answerTokens,
        generation.reasoningTokens,
      ),
      // The spec types `user` as a plain string, so it is left out rather than null.
      ...(typeof body.user === 'string' ? { user: body.user } : {}),
      metadata,
    };

    if (store) {
      for (const item of output) if (item.type === 'reasoning') this.reasoningIndex.set(item.id, response.id);
      this.state.responses.set(response.id, {
        response,
        inputItems: newItems,
        createdAtMs: nowMs,
        forcedExpired: false,
        deleted: false,
      });
    }
    if (conversation) this.conversations.append(conversation, [...newItems, ...output]);
    this.state.changed();
    return response;
  }

  /**
   * `POST /v1/responses/compact`: the context (the chain behind `previous_response_id`, then
   * `input`) as its user messages followed by one compaction item. Nothing is stored: the output is
   * meant to be the next request's input.
   */
  compact(rawBody: unknown): Record<string, unknown> {
    if (!isRecord(rawBody)) throw invalidType('body', 'an object', rawBody);
    rejectUnknownParameters(rawBody, COMPACT_PARAMETERS);
    if (rawBody.model === undefined || rawBody.model === null) throw missingParameter('model');
    if (typeof rawBody.model !== 'string') throw invalidType('model', 'a string', rawBody.model);
    const instructions = optionalString(rawBody, 'instructions') ?? null;
    const previousId = optionalString(rawBody, 'previous_response_id');
    const input = rawBody.input ?? undefined;
    if (input === undefined && previousId === undefined) throw missingParameter('input');
    const priorItems = previousId === undefined ? [] : this.chainContext(this.liveStored(previousId, true));
    const newItems = input === undefined ? [] : normalizeInput(input, 'input');
    const context = [...priorItems, ...newItems];
    assertToolOutputsPaired(context);
    const window = windowOf(context);
    const compaction = compact(window);
    const prior = new Set<Item>(priorItems);
    return {
      id: newId('resp'),
      object: 'response.compaction',
      output: [...window.filter(isUserMessage), compaction],
      created_at: toUnixSeconds(this.clock.now()),
      usage: usageOf(
        windowTokens(window, instructions),
        itemsTokens(window.filter((i) => prior.has(i))),
        itemsTokens([compaction]),
      ),
    };
  }

  /**
   * A reasoning item passed back as input is accepted as the live API accepts it: with
   * `encrypted_content` the emulator sealed, or by id when it belongs to a response that is still
   * stored (never in a `store: false` request); and followed by the item it was produced with.
   */
  private assertReasoningInputs(items: readonly Item[], store: boolean): void {
    items.forEach((item, i) => {
      if (item.type !== 'reasoning') return;
      if (item.encrypted_content !== undefined && item.encrypted_content !== null) {
        if (!unseal(item.encrypted_content, 'reasoning')) throw encryptedContentNotVerified(item.id);
      } else if (!store || !this.holdsReasoning(item.id)) {
        throw itemNotPersisted(item.id, 'input');
      }
      const next = items[i + 1];
      if (
        !next ||
        !(next.type === 'function_call' || (next.type === 'message' && next.role === 'assistant'))
      ) {
        throw invalidRequest(
          `Item '${item.id}' of type 'reasoning' was provided without its required following item.`,
          'input',
        );
      }
    });
  }

  private readonly reasoningIndex = new Map<string, string>();

  private holdsReasoning(id: string): boolean {
    let responseId = this.reasoningIndex.get(id);
    if (responseId === undefined) {
      // Loaded from a state file: not indexed yet.
      for (const stored of this.state.responses.values()) {
        if (stored.response.output.some((o) => o.type === 'reasoning' && o.id === id)) {
          responseId = stored.response.id;
          this.reasoningIndex.set(id, responseId);
          break;
        }
      }
    }
    const stored = responseId === undefined ? undefined : this.state.responses.get(responseId);
    return stored !== undefined && !this.isGone(stored);
  }

  retrieve(id: string): Record<string, unknown> {
    return this.liveStored(id, false).response;
  }

  delete(id: string): { id: string; object: 'response.deleted'; deleted: true } {
    const stored = this.liveStored(id, false);
    stored.deleted = true;
    this.state.changed();
    return { id, object: 'response.deleted', deleted: true };
  }

  inputItems(id: string, query: Record<string, unknown>) {
    const list = parseListQuery(query, { order: 'desc' });
    return paginate(this.liveStored(id, false).inputItems, list, (i) => i.id);
  }

  /** Makes a stored response unusable as if its 30 days had passed. */
  expire(id: string): void {
    const stored = this.state.responses.get(id);
    if (!stored || stored.deleted) throw responseNotFound(id);
    stored.forcedExpired = true;
    this.state.changed();
  }

  private isGone(stored: StoredResponse): boolean {
    return stored.deleted || stored.forcedExpired || this.clock.now() - stored.createdAtMs > this.retentionMs;
  }

  private liveStored(id: string, asPrevious: boolean): StoredResponse {
    const stored = this.state.responses.get(id);
    if (!stored || this.isGone(stored))
      throw asPrevious ? previousResponseNotFound(id) : responseNotFound(id);
    return stored;
  }

  /**
   * Every earlier link's input then output, oldest first. Links that were deleted or expired
   * after the newer response was created still count (each live response keeps its whole state).
   */
  private chainContext(head: StoredResponse): Item[] {
    const links: StoredResponse[] = [];
    const seen = new Set<string>();
    for (let link: StoredResponse | undefined = head; link && !seen.has(link.response.id);) {
      seen.add(link.response.id);
      links.unshift(link);
      const prev: unknown = link.response.previous_response_id;
      link = typeof prev === 'string' ? this.state.responses.get(prev) : undefined;
    }
    return links.flatMap((l) => [...l.inputItems, ...l.response.output]);
  }
}

function assertToolOutputsPaired(context: readonly Item[]): void {
  const outputs = new Set(context.flatMap((i) => (i.type === 'function_call_output' ? [i.call_id] : [])));
  const calls = new Set<string>();
  for (const item of context) {
    if (item.type === 'function_call') {
      calls.add(item.call_id);
    }
  }
  for (const callId of calls) {
    if (!outputs.has(callId))
      throw invalidRequest(`No tool output found for function call ${callId}.`, 'input');
  }
  // A compaction item may stand for the call of an output that follows it.
  const firstCompaction = context.findIndex((i) => i.type === 'compaction');
  const compactedAway = new Set(
    firstCompaction < 0
      ? []
      : context.slice(firstCompaction).flatMap((i) => (i.type === 'function_call_output' ? [i.call_id] : [])),
  );
  for (const callId of outputs) {
    if (!calls.has(callId) && !compactedAway.has(callId)) {
      throw invalidRequest(`No tool call found for function call output with call_id ${callId}.`, 'input');
    }
  }
}

function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidType(key, 'a boolean', v);
  return v;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidType(key, 'a string', v);
  return v;
}

function optionalNumber(
  body: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw invalidType(key, 'a number', v);
  if (v < min) {
    throw invalidRequest(
      `Invalid '${key}': number below minimum value. Expected a value >= ${min}, but got ${v} instead.`,
      key,
      'decimal_below_min_value',
    );
  }
  if (v > max) {
    throw invalidRequest(
      `Invalid '${key}': number above maximum value. Expected a value <= ${max}, but got ${v} instead.`,
      key,
      'decimal_above_max_value',
    );
  }
  return v;
}

function parseConversationParam(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value.id === 'string') return value.id;
  throw invalidType('conversation', 'one of a string or object', value);
}

function parseTools(value: unknown): FunctionToolDef[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidType('tools', 'an array', value);
  return value.map((raw, i) => {
    const param = `tools[${i}]`;
    if (!isRecord(raw)) throw invalidType(param, 'an object', raw);
    if (raw.type !== 'function') {
      throw new ApiError(
        400,
        `The Threadline emulator supports function tools only; got type '${String(raw.type)}'.`,
        'invalid_request_error',
        `${param}.type`,
        'invalid_value',
      );
    }
    if (typeof raw.name !== 'string' || raw.name.length === 0) throw missingParameter(`${param}.name`);
    if (raw.parameters !== undefined && raw.parameters !== null && !isRecord(raw.parameters)) {
      throw invalidType(`${param}.parameters`, 'an object', raw.parameters);
    }
    // Checked only when the client asks for strict mode; an omitted `strict` is echoed as true.
    if (raw.strict === true && isRecord(raw.parameters)) {
      const problem = strictSchemaProblem(raw.parameters);
      if (problem) throw invalidFunctionParameters(i, raw.name, problem);
    }
    return {
      type: 'function',
      name: raw.name,
      description: typeof raw.description === 'string' ? raw.description : null,
      parameters: isRecord(raw.parameters) ? raw.parameters : null,
      strict: typeof raw.strict === 'boolean' ? raw.strict : true,
    };
  });
}

function parseToolChoice(value: unknown, tools: readonly FunctionToolDef[]): ToolChoice {
  if (value === undefined || value === null) return 'auto';
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (typeof value === 'string') throw invalidValue('tool_choice', value, ['none', 'auto', 'required']);
  if (isRecord(value) && value.type === 'function' && typeof value.name === 'string') {
    if (!tools.some((t) => t.name === value.name)) {
      throw invalidRequest(
        `Tool choice '${value.name}' not found in 'tools' parameter.`,
        'tool_choice',
        'invalid_value',
      );
    }
    return { type: 'function', name: value.name };
  }
  throw invalidType('tool_choice', "one of 'none', 'auto', 'required' or a function tool choice", value);
}

const windowTokens = (window: readonly Item[], instructions: string | null): number =>
  itemsTokens(window) + instructionTokens(instructions);

/** `context_management`: a non-empty array of `{type: 'compaction', compact_threshold?}` entries. */
export function parseContextManagement(
  value: unknown,
  contextWindowTokens: number,
): { compactThreshold: number } | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalidType('context_management', 'an array', value);
  if (value.length === 0) {
    throw invalidRequest(
      "Invalid 'context_management': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'context_management',
      'empty_array',
    );
  }
  let compactThreshold: number | undefined;
  value.forEach((entry, i) => {
    const param = `context_management[${i}]`;
    if (!isRecord(entry)) throw invalidType(param, 'an object', entry);
    if (entry.type === undefined) throw missingParameter(`${param}.type`);
    if (entry.type !== 'compaction') throw invalidValue(`${param}.type`, entry.type, ['compaction']);
    const threshold = entry.compact_threshold;
    if (threshold === undefined || threshold === null) {
      compactThreshold ??= defaultCompactThreshold(contextWindowTokens);
      return;
    }
    if (typeof threshold !== 'number' || !Number.isInteger(threshold)) {
      throw invalidType(`${param}.compact_threshold`, 'an integer', threshold);
    }
    if (threshold < 1000) {
      throw invalidRequest(
        `Invalid '${param}.compact_threshold': integer below minimum value. Expected a value >= 1000, but got ${threshold} instead.`,
        `${param}.compact_threshold`,
        'integer_below_min_value',
      );
    }
    compactThreshold = Math.min(compactThreshold ?? threshold, threshold);
  });
  return { compactThreshold: compactThreshold! };
}

/** A parameter is sent when it is present and not null (the SDKs send null for "unset"). */
function assertSupported(body: Record<string, unknown>, family: ModelFamily): void {
  for (const param of UNSUPPORTED_PARAMETERS[family]) {
    const [head, key] = param.split('.') as [string, string | undefined];
    const value = key === undefined ? body[head] : isRecord(body[head]) ? body[head][key] : undefined;
    if (value !== undefined && value !== null) throw unsupportedParameter(param);
  }
}

/** `reasoning`: `{effort?, summary?}`; effort one of the spec's ReasoningEffort values. */
function parseReasoning(value: unknown): { effort?: ReasoningEffort; summary?: string } {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw invalidType('reasoning', 'an object', value);
  const out: { effort?: ReasoningEffort; summary?: string } = {};
  if (value.effort !== undefined && value.effort !== null) {
    if (
      typeof value.effort !== 'string' ||
      !(REASONING_EFFORTS as readonly string[]).includes(value.effort)
    ) {
      throw invalidValue('reasoning.effort', value.effort, REASONING_EFFORTS);
    }
    out.effort = value.effort as ReasoningEffort;
  }
  const summary = value.summary ?? value.generate_summary;
  if (summary !== undefined && summary !== null) {
    if (typeof summary !== 'string') throw invalidType('reasoning.summary', 'a string', summary);
    out.summary = summary;
  }
  return out;
}

function parseInclude(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidType('include', 'an array', value);
  return value.map((v, i) => {
    if (typeof v !== 'string') throw invalidType(`include[${i}]`, 'a string', v);
    return v;
  });
}
