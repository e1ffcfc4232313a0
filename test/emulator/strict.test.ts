import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { tool } from '@openai/agents';
import { z } from 'zod';
import { conciergeTools } from '../../src/agents/concierge/tools.js';
import type { Emulator } from '../../src/emulator/server.js';
import { contextOf, strictSchemaProblem } from '../../src/emulator/strictSchema.js';
import { testTools } from '../workflows/harness.js';
import { expectApiError, startHarness } from './support/harness.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());

type Params = Record<string, unknown>;
const withTool = (parameters: Params, strict: boolean | 'omit' = true, name = 'lookup') =>
  client.responses.create({
    model: 'm',
    input: 'hi',
    tools: [
      {
        type: 'function',
        name: 'ok',
        parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
        strict: true,
      },
      {
        type: 'function',
        name,
        parameters,
        ...(strict === 'omit' ? {} : { strict }),
      } as OpenAI.Responses.FunctionTool,
    ],
  });

const refused = (problem: string, name = 'lookup') => ({
  status: 400,
  type: 'invalid_request_error',
  code: 'invalid_function_parameters',
  param: 'tools[1].parameters',
  message: `Invalid schema for function '${name}': ${problem}`,
});

describe('strict function tool schemas', () => {
  it('accepts every agent and test tool of the repo (zod via @openai/agents tool())', async () => {
    const agentTools = [
      ...conciergeTools({ book: () => ({}) } as never),
      ...testTools([]),
      tool({
        name: 'nested',
        description: 'nested objects, arrays, enums and nullable fields',
        parameters: z.object({
          where: z.object({ city: z.string(), zip: z.string().nullable() }),
          tags: z.array(z.object({ k: z.enum(['a', 'b']), v: z.number() })),
        }),
        strict: true,
        execute: () => 'ok',
      }),
    ] as unknown as { name: string; parameters: Params; strict: boolean }[];
    for (const t of agentTools) expect(t.strict, t.name).toBe(true);
    const r = await client.responses.create({
      model: 'gpt-5-mini',
      input: 'hi',
      tools: agentTools.map((t) => ({
        type: 'function',
        name: t.name,
        parameters: t.parameters,
        strict: true,
      })),
    });
    expect(r.tools).toHaveLength(agentTools.length);
  });

  it('every object needs additionalProperties: false, at any depth', async () => {
    await expectApiError(
      withTool({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
      refused("In context=(), 'additionalProperties' is required to be supplied and to be false."),
    );
    await expectApiError(
      withTool({
        type: 'object',
        properties: {
          where: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
            additionalProperties: true,
          },
        },
        required: ['where'],
        additionalProperties: false,
      }),
      refused(
        "In context=('properties', 'where'), 'additionalProperties' is required to be supplied and to be false.",
      ),
    );
    await expectApiError(
      withTool({
        type: 'object',
        properties: {
          list: {
            type: 'array',
            items: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          },
        },
        required: ['list'],
        additionalProperties: false,
      }),
      refused(
        "In context=('properties', 'list', 'items'), 'additionalProperties' is required to be supplied and to be false.",
      ),
    );
  });

  it('every property must be required; no extra required keys', async () => {
    const missing = withTool({
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    });
    await expectApiError(
      missing,
      refused(
        "In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'unit'.",
      ),
    );
    await expectApiError(
      withTool({ type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false }),
      refused(
        "In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'city'.",
      ),
    );
    await expectApiError(
      withTool({ type: 'object', properties: {}, required: ['ghost'], additionalProperties: false }),
      refused(
        "In context=(), 'required' is required to be supplied and to be an array including every key in properties. Extra required key 'ghost' supplied.",
      ),
    );
  });

  it('unsupported keywords and a non-object root are refused; strict false or omitted is not checked', async () => {
    await expectApiError(
      withTool({
        type: 'object',
        properties: { a: { allOf: [{ type: 'string' }] } },
        required: ['a'],
        additionalProperties: false,
      }),
      refused("In context=('properties', 'a'), 'allOf' is not permitted."),
    );
    await expectApiError(
      withTool({
        type: 'object',
        properties: { a: { anyOf: [{ type: 'string' }, { type: 'object', properties: {}, not: {} }] } },
        required: ['a'],
        additionalProperties: false,
      }),
      refused("In context=('properties', 'a', 'anyOf', 1), 'not' is not permitted."),
    );
    await expectApiError(
      withTool({ type: 'string' }),
      refused(`schema must be a JSON Schema of 'type: "object"', got 'type: "string"'.`),
    );
    const loose = { type: 'object', properties: { city: { type: 'string' } } };
    await withTool(loose, false);
    const omitted = await withTool(loose, 'omit');
    expect(omitted.tools[1]).toMatchObject({ name: 'lookup', strict: true });
  });

  it('contexts are written as Python tuples, as the live messages do', () => {
    expect(contextOf([])).toBe('()');
    expect(contextOf(['properties'])).toBe("('properties',)");
    expect(contextOf(['properties', 'a', 'anyOf', 0])).toBe("('properties', 'a', 'anyOf', 0)");
    expect(
      strictSchemaProblem({ type: 'object', properties: {}, required: [], additionalProperties: false }),
    ).toBeUndefined();
  });
});
