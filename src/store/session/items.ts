import type { AgentInputItem } from '@openai/agents';

/**
 * Conversion between Agents SDK items (camelCase: `callId`, `function_call_result`, `providerData`)
 * and Responses API wire items (`call_id`, `function_call_output`, ...). The transcript stores wire
 * items, so the runtime's conversations and Agents SDK sessions read and write one format.
 *
 * The SDK shape holds a few things the wire shape cannot (the tool name on a function result, an
 * SDK placeholder id, providerData keys that are not wire fields). So that a session gives back
 * exactly what it was given, which the SDK relies on when it compares stored history with what it
 * expects, `toStoredItem` also returns a small patch: the top-level fields where the item rebuilt
 * from the wire shape differs from the original. It is null in the common case.
 *
 * Pure functions, no I/O.
 */

export type WireItem = Record<string, unknown>;
type Obj = Record<string, unknown>;

export interface SdkPatch {
  /** Top-level fields to set on the item rebuilt from the wire shape. */
  set?: Obj;
  /** Top-level fields to remove from it. */
  unset?: string[];
  /** The tool output was `{type: 'text', text}`: rebuilt from the wire string without storing it twice. */
  textOutput?: true;
}

export interface StoredItem {
  wire: WireItem;
  patch: SdkPatch | null;
}

/** The id the SDK gives items it made up; it means "no id" and must never reach the API. */
const SDK_PLACEHOLDER_ID = '__fake_id__';

// Wire item types the SDK represents as one `hosted_tool_call` item named after the wire type.
const HOSTED_TOOL_TYPES = new Set([
  'web_search_call',
  'file_search_call',
  'code_interpreter_call',
  'image_generation_call',
  'mcp_call',
  'mcp_list_tools',
  'mcp_approval_request',
  'mcp_approval_response',
]);

// SDK item types whose wire type has another name.
const WIRE_TYPE: Record<string, string> = {
  function_call_result: 'function_call_output',
  computer_call_result: 'computer_call_output',
};
const SDK_TYPE: Record<string, string> = Object.fromEntries(
  Object.entries(WIRE_TYPE).map(([a, b]) => [b, a]),
);

// ---------------------------------------------------------------------------------------------
// SDK -> wire

export function toStoredItem(item: AgentInputItem): StoredItem {
  const original = plain(item) as Obj;
  const wire = plain(toWire(original)) as WireItem;
  const textOutput =
    original.type === 'function_call_result' && isTextOutput(original.output)
      ? ({ textOutput: true } as const)
      : {};
  const rebuilt = rebuild(wire, textOutput.textOutput === true);
  const diff = diffTopLevel(rebuilt, original);
  // The tool name has no wire field; keep it even when it happens to equal what a read would guess.
  if (original.type === 'function_call_result' && original.name !== undefined) {
    diff.set = { ...diff.set, name: original.name };
  }
  const patch: SdkPatch = { ...diff, ...textOutput };
  return { wire, patch: Object.keys(patch).length > 0 ? patch : null };
}

/** The Responses wire shape of an Agents SDK item. */
export function toWireItem(item: AgentInputItem): WireItem {
  return toStoredItem(item).wire;
}

function toWire(item: Obj): WireItem {
  const type = typeof item.type === 'string' ? item.type : undefined;
  const pd = isObj(item.providerData) ? item.providerData : {};
  if (type === undefined || type === 'message') return messageToWire(item, pd);
  switch (type) {
    case 'function_call':
      return {
        ...spread(pd, ['id', 'type', 'call_id', 'name', 'arguments', 'status', 'namespace', 'caller']),
        type: 'function_call',
        id: realId(item.id),
        call_id: item.callId,
        name: item.name,
        namespace: item.namespace,
        arguments: item.arguments,
        status: item.status,
        caller: callerToWire(item.caller),
      };
    case 'function_call_result':
      return {
        ...spread(pd, ['id', 'type', 'call_id', 'output', 'status', 'namespace', 'caller', 'name']),
        type: 'function_call_output',
        id: realId(item.id),
        call_id: item.callId,
        output: toolOutputToWire(item.output),
        status: item.status,
        caller: callerToWire(item.caller),
      };
    case 'reasoning':
      return {
        ...spread(pd, ['id', 'type', 'summary']),
        type: 'reasoning',
        id: realId(item.id),
        summary: asArray(item.content).map((part) => {
          const p = part as Obj;
          return {
            ...spread(isObj(p.providerData) ? p.providerData : {}, ['type', 'text']),
            type: 'summary_text',
            text: p.text,
          };
        }),
        ...(Array.isArray(item.rawContent)
          ? { content: item.rawContent.map((p) => ({ type: 'reasoning_text', text: (p as Obj).text })) }
          : {}),
      };
    case 'compaction':
      return {
        ...spread(pd, ['id', 'type']),
        type: 'compaction',
        id: realId(item.id),
        encrypted_content: item.encrypted_content,
        created_by: item.created_by,
      };
    case 'hosted_tool_call': {
      const wireType =
        typeof pd.type === 'string' ? pd.type : typeof item.name === 'string' ? item.name : 'unknown';
      return {
        ...snakeKeys(pd),
        type: wireType,
        id: realId(item.id),
        status: item.status,
        ...(wireType === 'image_generation_call' && item.output !== undefined ? { result: item.output } : {}),
        caller: callerToWire(item.caller),
      };
    }
    case 'unknown':
      return { ...pd, type: pd.type ?? 'unknown', id: realId(item.id) ?? pd.id };
    default: {
      // Other tool items (computer, shell, apply_patch, tool search, programs): the wire shape is
      // the snake_case spelling of the same fields; the patch keeps the round trip exact.
      const { providerData: _pd, ...fields } = item;
      const wire: Obj = { ...snakeKeys(pd), ...snakeKeys(fields), type: WIRE_TYPE[type] ?? type };
      if (type === 'program_output') {
        wire.result = wire.output;
        delete wire.output;
      }
      if (isObj(wire.action)) wire.action = snakeKeys(wire.action);
      if (isObj(wire.caller)) wire.caller = snakeKeys(wire.caller);
      return wire;
    }
  }
}

function messageToWire(item: Obj, pd: Obj): WireItem {
  const reserved = ['id', 'type', 'role', 'content', 'status', 'phase'];
  const base = { ...spread(pd, reserved), type: 'message', id: realId(item.id), role: item.role };
  if (item.role === 'assistant') {
    return {
      ...base,
      status: item.status,
      content: asArray(item.content).map((p) => outputPartToWire(p as Obj)),
      phase: item.phase ?? (pd.phase === 'commentary' || pd.phase === 'final_answer' ? pd.phase : undefined),
    };
  }
  return {
    ...base,
    content:
      typeof item.content === 'string'
        ? item.content
        : asArray(item.content).map((p) => inputPartToWire(p as Obj)),
  };
}

function outputPartToWire(part: Obj): Obj {
  const pd = isObj(part.providerData) ? part.providerData : {};
  if (part.type === 'output_text') {
    return {
      ...spread(pd, ['type', 'text']),
      type: 'output_text',
      text: part.text,
      annotations: pd.annotations ?? [],
    };
  }
  if (part.type === 'refusal')
    return { ...spread(pd, ['type', 'refusal']), type: 'refusal', refusal: part.refusal };
  const { providerData: _pd, ...fields } = part;
  return { ...snakeKeys(pd), ...snakeKeys(fields) };
}

function inputPartToWire(part: Obj): Obj {
  const pd = isObj(part.providerData) ? part.providerData : {};
  const cache =
    part.promptCacheBreakpoint === undefined ? {} : { prompt_cache_breakpoint: part.promptCacheBreakpoint };
  switch (part.type) {
    case 'input_text':
      return { ...spread(pd, ['type', 'text']), type: 'input_text', text: part.text, ...cache };
    case 'input_image': {
      const image = part.image;
      return {
        ...spread(pd, ['type', 'image_url', 'file_id', 'detail']),
        type: 'input_image',
        ...(typeof image === 'string' ? { image_url: image } : isObj(image) ? { file_id: image.id } : {}),
        detail: part.detail ?? 'auto',
        ...cache,
      };
    }
    case 'input_file': {
      const file = part.file;
      const source =
        typeof file === 'string'
          ? file.startsWith('https://') || file.startsWith('http://')
            ? { file_url: file }
            : { file_data: file }
          : isObj(file)
            ? 'id' in file
              ? { file_id: file.id }
              : { file_url: file.url }
            : {};
      return {
        ...spread(pd, ['type', 'file_data', 'file_url', 'file_id', 'filename']),
        type: 'input_file',
        ...source,
        filename: part.filename,
        ...cache,
      };
    }
    default: {
      const { providerData: _pd, ...fields } = part;
      return { ...snakeKeys(pd), ...snakeKeys(fields) };
    }
  }
}

function toolOutputToWire(output: unknown): unknown {
  if (typeof output === 'string') return output;
  if (isTextOutput(output)) return output.text;
  if (Array.isArray(output)) return output.map((p) => inputPartToWire(p as Obj));
  if (isObj(output) && output.type === 'image') {
    const image = output.image;
    return [
      inputPartToWire({
        type: 'input_image',
        image:
          typeof image === 'string'
            ? image
            : isObj(image) && typeof image.url === 'string'
              ? image.url
              : image,
        detail: output.detail,
      }),
    ];
  }
  if (isObj(output) && output.type === 'text') return String(output.text ?? '');
  // Anything else has no wire form; the patch keeps it for the SDK.
  return JSON.stringify(output);
}

function isTextOutput(output: unknown): output is { type: 'text'; text: string } {
  return (
    isObj(output) &&
    output.type === 'text' &&
    typeof output.text === 'string' &&
    Object.keys(output).every((k) => k === 'type' || k === 'text')
  );
}

function callerToWire(caller: unknown): unknown {
  if (!isObj(caller)) return undefined;
  return caller.type === 'program' ? { type: 'program', caller_id: caller.callerId } : { type: caller.type };
}

// ---------------------------------------------------------------------------------------------
// wire -> SDK

/**
 * The Agents SDK item for a stored wire item. `names` maps call ids to tool names for function
 * outputs the runtime wrote (the wire output has no name); without a match the call id stands in,
 * as the SDK itself does.
 */
export function fromStoredItem(
  wire: WireItem,
  patch: SdkPatch | null,
  names?: ReadonlyMap<string, string>,
): AgentInputItem {
  return fromOwnedItem(structuredClone(wire), patch, names);
}

/**
 * As `fromStoredItem`, for a wire item nobody else holds (just parsed from a row): its parts
 * become the SDK item's without a copy, which is most of what reading a session costs.
 */
export function fromOwnedItem(
  wire: WireItem,
  patch: SdkPatch | null,
  names?: ReadonlyMap<string, string>,
): AgentInputItem {
  const item = withoutUndefined(rebuildRaw(wire, patch?.textOutput === true, names)) as Obj;
  for (const key of patch?.unset ?? []) delete item[key];
  if (patch?.set) Object.assign(item, structuredClone(patch.set));
  return item as AgentInputItem;
}

/** The Agents SDK item for a wire item (no stored patch). */
export function fromWireItem(wire: WireItem, names?: ReadonlyMap<string, string>): AgentInputItem {
  return fromStoredItem(wire, null, names);
}

/** Tool names by call id, from the function calls among `wires`. */
export function functionNamesByCallId(wires: WireItem[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const w of wires) {
    if (w.type === 'function_call' && typeof w.call_id === 'string' && typeof w.name === 'string')
      names.set(w.call_id, w.name);
  }
  return names;
}

function rebuild(wire: WireItem, textOutput: boolean, names?: ReadonlyMap<string, string>): Obj {
  return withoutUndefined(rebuildRaw(structuredClone(wire), textOutput, names)) as Obj;
}

/**
 * What a JSON round trip would leave of a rebuilt item, in place: no undefined properties, and
 * undefined array elements as null. Rebuilt items hold only JSON values and undefined.
 */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++)
      value[i] = value[i] === undefined ? null : withoutUndefined(value[i]);
  } else if (isObj(value)) {
    for (const key of Object.keys(value)) {
      if (value[key] === undefined) delete value[key];
      else withoutUndefined(value[key]);
    }
  }
  return value;
}

function rebuildRaw(wire: Obj, textOutput: boolean, names?: ReadonlyMap<string, string>): Obj {
  const type = typeof wire.type === 'string' ? wire.type : undefined;
  if (type === undefined || type === 'message') return messageFromWire(wire);
  if (HOSTED_TOOL_TYPES.has(type)) {
    const { status, result, caller, ...rest } = wire;
    return {
      type: 'hosted_tool_call',
      id: wire.id,
      name: type,
      status,
      output: type === 'image_generation_call' && result !== null ? result : undefined,
      caller: callerFromWire(caller),
      providerData: {
        ...rest,
        ...(type === 'image_generation_call' ? {} : result === undefined ? {} : { result }),
      },
    };
  }
  switch (type) {
    case 'function_call': {
      // providerData is what the SDK's own Responses model keeps there: every non-core field.
      const { call_id, name, namespace, caller, status, arguments: args, ...providerData } = wire;
      return {
        type: 'function_call',
        id: wire.id,
        callId: call_id,
        name,
        namespace,
        status,
        arguments: args,
        caller: callerFromWire(caller),
        providerData,
      };
    }
    case 'function_call_output': {
      const { type: _t, id, call_id, output, status, namespace, caller, name, ...providerData } = wire;
      const callId = String(call_id);
      return {
        type: 'function_call_result',
        id,
        name: typeof name === 'string' ? name : (names?.get(callId) ?? callId),
        namespace,
        callId,
        status: status ?? 'completed',
        output:
          textOutput && typeof output === 'string'
            ? { type: 'text', text: output }
            : toolOutputFromWire(output),
        caller: callerFromWire(caller),
        ...(Object.keys(providerData).length > 0 ? { providerData } : {}),
      };
    }
    case 'reasoning': {
      const { summary, ...providerData } = wire;
      return {
        type: 'reasoning',
        id: wire.id,
        content: asArray(summary).map((s) => {
          const { text, ...rest } = s as Obj;
          return { type: 'input_text', text, providerData: rest };
        }),
        providerData,
      };
    }
    case 'compaction': {
      const { encrypted_content, created_by, ...providerData } = wire;
      return { type: 'compaction', id: wire.id, encrypted_content, created_by, providerData };
    }
    case 'computer_call':
    case 'computer_call_output':
    case 'shell_call':
    case 'shell_call_output':
    case 'apply_patch_call':
    case 'apply_patch_call_output':
    case 'tool_search_call':
    case 'tool_search_output':
    case 'program':
    case 'program_output': {
      const item = camelKeys(wire);
      item.type = SDK_TYPE[type] ?? type;
      if (type === 'program_output') {
        item.output = item.result;
        delete item.result;
      }
      if (isObj(item.action)) item.action = camelKeys(item.action);
      if (isObj(item.caller)) item.caller = callerFromWire(wire.caller);
      return item;
    }
    default:
      return { type: 'unknown', id: wire.id, providerData: wire };
  }
}

function messageFromWire(wire: Obj): Obj {
  const role = wire.role === 'developer' ? 'system' : wire.role;
  if (role === 'assistant') {
    const { id, type: _t, role: _r, content, status, phase, ...rest } = wire;
    const knownPhase = phase === 'commentary' || phase === 'final_answer' ? phase : undefined;
    return {
      id,
      type: 'message',
      role: 'assistant',
      content: asArray(content).map((p) => outputPartFromWire(p as Obj)),
      status: status ?? 'completed',
      phase: knownPhase,
      providerData: { ...rest, ...(knownPhase ? { phase: knownPhase } : {}) },
    };
  }
  const { id, type: _t, role: _r, content, status: _s, ...rest } = wire;
  const base = { type: 'message', id, role, ...(Object.keys(rest).length > 0 ? { providerData: rest } : {}) };
  if (role === 'system') {
    // The SDK's system message holds a string; the wire may hold text parts.
    return {
      ...base,
      content: typeof content === 'string' ? content : asArray(content).map(partText).join('\n'),
    };
  }
  return {
    ...base,
    content: typeof content === 'string' ? content : asArray(content).map((p) => inputPartFromWire(p as Obj)),
  };
}

function outputPartFromWire(part: Obj): Obj {
  if (part.type === 'output_text') {
    const { type: _t, text, ...providerData } = part;
    return { type: 'output_text', text, ...(Object.keys(providerData).length > 0 ? { providerData } : {}) };
  }
  if (part.type === 'refusal') {
    const { type: _t, refusal, ...providerData } = part;
    return { type: 'refusal', refusal, ...(Object.keys(providerData).length > 0 ? { providerData } : {}) };
  }
  return camelKeys(part);
}

function inputPartFromWire(part: Obj): Obj {
  const withCache = (fields: Obj, rest: Obj): Obj => {
    const { prompt_cache_breakpoint, ...providerData } = rest;
    return {
      ...fields,
      promptCacheBreakpoint: prompt_cache_breakpoint,
      ...(Object.keys(providerData).length > 0 ? { providerData } : {}),
    };
  };
  switch (part.type) {
    case 'input_text':
    case 'output_text': {
      // A user message the runtime built from an earlier assistant text is still text to the SDK.
      const { type: _t, text, annotations: _a, logprobs: _l, ...rest } = part;
      return withCache({ type: 'input_text', text }, rest);
    }
    case 'input_image': {
      const { type: _t, image_url, file_id, detail, ...rest } = part;
      const image =
        typeof image_url === 'string' ? image_url : typeof file_id === 'string' ? { id: file_id } : undefined;
      return withCache({ type: 'input_image', image, detail }, rest);
    }
    case 'input_file': {
      const { type: _t, file_data, file_url, file_id, filename, ...rest } = part;
      const file =
        typeof file_data === 'string'
          ? file_data
          : typeof file_url === 'string'
            ? file_url
            : typeof file_id === 'string'
              ? { id: file_id }
              : undefined;
      return withCache({ type: 'input_file', file, filename }, rest);
    }
    default:
      return camelKeys(part);
  }
}

function toolOutputFromWire(output: unknown): unknown {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map((p) => inputPartFromWire(p as Obj));
  return '';
}

function callerFromWire(caller: unknown): unknown {
  if (!isObj(caller)) return undefined;
  return caller.type === 'program' ? { type: 'program', callerId: caller.caller_id } : { type: caller.type };
}

function partText(part: unknown): string {
  return isObj(part) && typeof part.text === 'string' ? part.text : '';
}

// ---------------------------------------------------------------------------------------------
// helpers

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function realId(id: unknown): unknown {
  return id === SDK_PLACEHOLDER_ID ? undefined : id;
}

/** providerData keys become wire fields, except those the item's own fields decide. */
function spread(pd: Obj, reserved: string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(snakeKeys(pd))) if (!reserved.includes(k)) out[k] = v;
  return out;
}

function snakeKeys(obj: Obj): Obj {
  return Object.fromEntries(
    Object.entries(obj).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]),
  );
}

function camelKeys(obj: Obj): Obj {
  return Object.fromEntries(
    Object.entries(obj).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  );
}

/** JSON semantics, as the database stores it: no undefined values anywhere. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function diffTopLevel(rebuilt: Obj, original: Obj): Pick<SdkPatch, 'set' | 'unset'> {
  const set: Obj = {};
  for (const [k, v] of Object.entries(original)) if (!deepEqual(rebuilt[k], v)) set[k] = v;
  const unset = Object.keys(rebuilt).filter((k) => !(k in original));
  return { ...(Object.keys(set).length > 0 ? { set } : {}), ...(unset.length > 0 ? { unset } : {}) };
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
    );
  }
  if (!isObj(a) || !isObj(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
}
