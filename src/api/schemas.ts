import { z } from 'zod';

/** Schemas shared by several routes. Each is both the validation and the OpenAPI description. */

// Each rule below is a zod check whose JSON Schema form the OpenAPI document carries (a `pattern`,
// or `minLength`/`maxLength` counted as JSON Schema counts them, in code points): a request the
// document allows is a request the validator accepts.

// No control characters (\p{Cc}) in ids: they end up in workflow ids, SQL parameters and logs. No
// NUL in text: Postgres refuses it. (Fuzzers and JSON Schema engines cannot compile a surrogate
// range, so lone surrogates are refused by a separate check the descriptions mention.)
/* eslint-disable no-control-regex -- these patterns name the control characters they refuse */
const NO_CONTROL = /^[^\x00-\x1F\x7F-\x9F]*$/;
const CLEAN = /^[^\x00]*$/;
// A lone UTF-16 surrogate (from a JSON `"\ud800"`) is not text: Postgres refuses it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// The characters String.prototype.trim removes, spelled out: `\s` differs between regex engines.
const NOT_BLANK = /[^\t\n\x0B\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]/u;
/* eslint-enable no-control-regex */

/** True for strings Postgres and every channel can store as text. */
export function isCleanText(v: string): boolean {
  return CLEAN.test(v) && !LONE_SURROGATE.test(v);
}

const wellFormed = (s: z.ZodString) =>
  s.refine((v) => !LONE_SURROGATE.test(v), { message: 'must be well-formed Unicode (no lone surrogate)' });

/**
 * A string of `min` to `max` characters, counted in code points as JSON Schema's `minLength` and
 * `maxLength` are (zod's own `.max` counts UTF-16 units: an emoji would count twice).
 */
export function chars(min: number, max: number): z.ZodString {
  return z
    .string()
    .check(
      z.refine((v) => codePoints(v) >= min && codePoints(v) <= max, {
        message: min > 0 ? `must be ${min}-${max} characters` : `must be at most ${max} characters`,
        abort: true,
      }),
    )
    .meta({ ...(min > 0 ? { minLength: min } : {}), maxLength: max }) as z.ZodString;
}

function codePoints(v: string): number {
  let n = 0;
  for (const _ of v) n++;
  return n;
}

/** Text: no NUL, no lone surrogate. */
export const cleanText = (min: number, max: number) =>
  wellFormed(chars(min, max).regex(CLEAN, { message: 'must be valid Unicode text without NUL characters' }));

/** Text with at least one character that is not white space. */
export const nonBlankText = (max: number) =>
  cleanText(1, max).regex(NOT_BLANK, { message: 'must not be empty or only white space' });

/**
 * The workflow's own check (validateInboundMessage) counts UTF-16 units; JSON Schema cannot, so
 * the document says it in words. Only strings of many emoji or other astral characters reach it.
 */
export function utf16Max<T extends z.ZodString>(s: T, max: number): T {
  return s
    .refine((v) => v.length <= max, {
      message: `must be at most ${max} UTF-16 code units (a character outside the BMP counts as 2)`,
    })
    .meta({ description: `At most ${max} UTF-16 code units: a character outside the BMP counts as 2.` }) as T;
}

export const pathId = wellFormed(
  chars(1, 256).regex(NO_CONTROL, { message: 'must not contain control characters' }),
);

export const conversationParams = z.object({
  channel: pathId.describe('Channel name, e.g. `web`, `whatsapp`'),
  conversationId: pathId.describe("The conversation's id in its channel (a phone number, a chat id)"),
});

export const tenantName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._-]+$/, { message: 'may contain letters, digits, ".", "_" and "-" only' });

export const errorBody = z
  .object({
    error: z.object({
      type: z.string(),
      code: z.string().nullable(),
      message: z.string(),
      param: z.string().nullable(),
    }),
  })
  .meta({ id: 'Error' });

/** `?flag=true` / `?flag=false` as a boolean; anything else is a 400 naming the parameter. */
export const queryFlag = z
  .enum(['true', 'false'])
  .optional()
  .transform((v) => v === 'true');

export const usageTotals = z
  .object({
    calls: z.number().int(),
    inputTokens: z.number().int(),
    cachedInputTokens: z.number().int(),
    outputTokens: z.number().int(),
    reasoningTokens: z.number().int(),
    costUsd: z.number().describe('Sum over calls with a known price'),
    unpricedCalls: z.number().int().describe('Calls without a price (unknown model or no usage)'),
  })
  .meta({ id: 'UsageTotals' });

/** An agent's name, as defineAgent allows it; the routing decides whether the tenant may use it. */
export const agentName = z
  .string()
  .regex(/^[\w.-]{1,64}$/, { message: 'must be an agent name: 1-64 letters, digits, "_", "-" or "."' });
/** Where a stream delta belongs: the model step and the activity attempt that produced it. */
const streamPlace = {
  turn: z.number().int(),
  step: z.number().int().describe('The model step within the turn (a tool round starts a new step)'),
  attempt: z.number().int().describe('The model activity attempt; a retry streams as the next attempt'),
};
const streamItem = z
  .object({
    type: z.string().describe('`message` or `function_call`'),
    id: z.string().optional(),
    role: z.string().optional(),
    status: z.string().optional(),
    name: z.string().optional().describe('A function call: the tool'),
    call_id: z.string().optional(),
    arguments: z
      .string()
      .optional()
      .describe('A function call (item.done): its arguments, at most 2,000 characters'),
  })
  .describe('What the item is, not its content');

/**
 * The `data` of each event of GET .../events, by event name. OpenAPI 3.1 cannot type the frames of
 * a text/event-stream body, so these are named components the stream's description points to.
 */
export const streamEventData = z
  .union([
    z
      .object({
        ...streamPlace,
        outputIndex: z.number().int(),
        contentIndex: z.number().int(),
        text: z.string(),
      })
      .describe('`stream.delta`: append `text` to the answer of this step')
      .meta({ id: 'StreamDelta' }),
    z
      .object({ ...streamPlace, outputIndex: z.number().int(), item: streamItem })
      .describe('`stream.item.added` / `stream.item.done`: an output item of the step begins or ends')
      .meta({ id: 'StreamItem' }),
    z
      .object({ ...streamPlace, reason: z.enum(['retry', 'recall']) })
      .describe(
        '`stream.superseded`: drop everything streamed so far for this step; what follows is the new attempt',
      )
      .meta({ id: 'StreamSuperseded' }),
  ])
  .meta({ id: 'StreamEventData' });
