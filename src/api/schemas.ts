import { z } from 'zod';

/** Schemas shared by several routes. Each is both the validation and the OpenAPI description. */

// No control characters in ids: they end up in workflow ids, SQL parameters and logs.
const CONTROL = /\p{Cc}/u;
// A lone UTF-16 surrogate (from a JSON `"\ud800"`) is not text: Postgres refuses it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True for strings Postgres and every channel can store as text. */
export function isCleanText(v: string): boolean {
  return !LONE_SURROGATE.test(v) && !v.includes('\u0000');
}

export const pathId = z
  .string()
  .min(1)
  .max(256)
  .refine((v) => !CONTROL.test(v), { message: 'must not contain control characters' })
  .refine((v) => !LONE_SURROGATE.test(v), { message: 'must be well-formed Unicode' });

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
