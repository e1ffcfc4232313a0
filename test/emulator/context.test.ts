import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { expectApiError, http, memoryOf, startHarness } from './support/harness.js';
import { assertMatchesSchema } from './support/schemas.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

const CONTEXT_ERROR = {
  status: 400,
  type: 'invalid_request_error',
  code: 'context_length_exceeded',
  param: 'input',
  message: 'Your input exceeds the context window of this model. Please adjust your input and try again.',
};

/** ~100 tokens of user text per turn: 400 characters. */
const turnText = (n: number) => `turn ${n} `.padEnd(400, 'x');

describe('context window', () => {
  it('a growing chain hits the window, and the failing call fails again on retry', async () => {
    emulator.models.set('gpt-5-mini', { contextWindowTokens: 1500 });
    let previous: string | undefined;
    let turns = 0;
    let failure: unknown;
    for (; turns < 20; turns++) {
      try {
        const r: OpenAI.Responses.Response = await client.responses.create({
          model: 'gpt-5-mini',
          input: turnText(turns),
          ...(previous ? { previous_response_id: previous } : {}),
        });
        expect(r.usage!.input_tokens).toBeLessThanOrEqual(1500);
        previous = r.id;
      } catch (e) {
        failure = e;
        break;
      }
    }
    expect(turns).toBeGreaterThan(2);
    expect(turns).toBeLessThan(20);
    await expectApiError(Promise.reject(failure), CONTEXT_ERROR);
    // Deterministic: the same call fails again.
    await expectApiError(
      client.responses.create({
        model: 'gpt-5-mini',
        input: turnText(turns),
        previous_response_id: previous!,
      }),
      CONTEXT_ERROR,
    );
  });

  it('once the stored state alone passes the window, every later call on it fails the same way', async () => {
    emulator.models.set('gpt-5-mini', { contextWindowTokens: 1500 });
    // Fits, but its answer echoes it: the chain behind this response is now about twice the window.
    const full = await client.responses.create({ model: 'gpt-5-mini', input: 'x'.repeat(5200) });
    for (const input of ['short', 'another']) {
      const body = await http(emulator, 'POST', '/v1/responses', {
        model: 'gpt-5-mini',
        input,
        previous_response_id: full.id,
      });
      expect(body.status).toBe(400);
      expect(body.json).toEqual({
        error: {
          type: 'invalid_request_error',
          code: 'context_length_exceeded',
          param: 'input',
          message: CONTEXT_ERROR.message,
        },
      });
      assertMatchesSchema('ErrorResponse', body.json);
    }
  });

  it('instructions count; a conversation object keeps failing once its items are too long', async () => {
    emulator.models.set('gpt-5-mini', { contextWindowTokens: 300 });
    await expectApiError(
      client.responses.create({ model: 'gpt-5-mini', input: 'hi', instructions: 'i'.repeat(1200) }),
      CONTEXT_ERROR,
    );
    const conv = await client.conversations.create({ items: [{ role: 'user', content: 'x'.repeat(1300) }] });
    for (let i = 0; i < 2; i++) {
      await expectApiError(
        client.responses.create({ model: 'gpt-5-mini', conversation: conv.id, input: 'hi' }),
        CONTEXT_ERROR,
      );
    }
    const items = await client.conversations.items.list(conv.id);
    expect(items.data).toHaveLength(1);
  });

  it('defaults follow the model table; overrides from options and the admin route; reset drops run-time ones', async () => {
    const big = 'x'.repeat(4 * 130_000); // ~130k tokens
    await expectApiError(client.responses.create({ model: 'gpt-4o', input: big }), CONTEXT_ERROR);
    await client.responses.create({ model: 'gpt-4.1', input: big });
    await client.responses.create({ model: 'gpt-5-mini-2025-08-07', input: big });

    const set = await http(emulator, 'POST', '/_emulator/models/gpt-4.1', { contextWindowTokens: 50 }, {});
    expect(set.json).toMatchObject({ model: 'gpt-4.1', family: 'chat', contextWindowTokens: 50 });
    await expectApiError(
      client.responses.create({ model: 'gpt-4.1', input: 'y'.repeat(400) }),
      CONTEXT_ERROR,
    );
    const bad = await http(emulator, 'POST', '/_emulator/models/gpt-4.1', { contextWindow: 5 }, {});
    expect(bad.status).toBe(400);
    emulator.reset();
    expect((await http(emulator, 'GET', '/_emulator/models/gpt-4.1', undefined, {})).json).toMatchObject({
      contextWindowTokens: 1_047_576,
    });

    const small = await startHarness({ models: { 'tiny-model': { contextWindowTokens: 20 } } });
    try {
      await expectApiError(
        small.client.responses.create({ model: 'tiny-model', input: 'z'.repeat(100) }),
        CONTEXT_ERROR,
      );
      small.emulator.reset();
      expect(small.emulator.models.profile('tiny-model').contextWindowTokens).toBe(20);
    } finally {
      await small.emulator.close();
    }
  });
});

describe('POST /v1/responses/compact', () => {
  it('returns the user messages then an opaque compaction item; passed as input, the next call fits', async () => {
    emulator.models.set('gpt-5-mini', { contextWindowTokens: 1200 });
    const tools: OpenAI.Responses.FunctionTool[] = [
      { type: 'function', name: 'lookup', strict: false, parameters: { type: 'object', properties: {} } },
    ];
    const a = await client.responses.create({
      model: 'gpt-5-mini',
      input: `${turnText(0)} call lookup`,
      tools,
    });
    const call = a.output.find((i) => i.type === 'function_call')!;
    const b = await client.responses.create({
      model: 'gpt-5-mini',
      previous_response_id: a.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'o'.repeat(2000) }],
      tools,
    });
    await expectApiError(
      client.responses.create({ model: 'gpt-5-mini', previous_response_id: b.id, input: turnText(1) }),
      CONTEXT_ERROR,
    );

    const compacted = (
      await http(emulator, 'POST', '/v1/responses/compact', {
        model: 'gpt-5-mini',
        previous_response_id: b.id,
      })
    ).json as OpenAI.Responses.CompactedResponse;
    assertMatchesSchema('CompactResource', compacted);
    expect(compacted.object).toBe('response.compaction');
    expect(compacted.output.map((i) => i.type)).toEqual(['message', 'compaction']);
    const item = compacted.output[1] as { id: string; encrypted_content: string };
    expect(item.id).toMatch(/^cmp_/);
    expect(item.encrypted_content).not.toContain('lookup');
    expect(compacted.usage.input_tokens).toBeGreaterThan(compacted.usage.output_tokens);

    const next = await client.responses.create({
      model: 'gpt-5-mini',
      input: [
        ...(compacted.output as OpenAI.Responses.ResponseInputItem[]),
        { role: 'user', content: turnText(1) },
      ],
    });
    expect(memoryOf(next.output_text)).toMatchObject({ users: 2, first: turnText(0).slice(0, 60) });
    expect(next.usage!.input_tokens).toBeLessThan(1200);
    assertMatchesSchema('Response', (await http(emulator, 'GET', `/v1/responses/${next.id}`)).json);

    // The SDK method speaks the same endpoint.
    const viaSdk = await client.responses.compact({ model: 'gpt-5-mini', input: 'only this' });
    expect(viaSdk.output.at(-1)?.type).toBe('compaction');
  });

  it('a forged or edited compaction item is refused as the live API refuses foreign ciphertext', async () => {
    const { output } = (
      await http(emulator, 'POST', '/v1/responses/compact', { model: 'gpt-5-mini', input: 'hello' })
    ).json as { output: { type: string; id: string; encrypted_content: string }[] };
    const item = output.at(-1)!;
    for (const encrypted_content of ['gAAAAforged', `${item.encrypted_content.slice(0, -2)}xx`]) {
      await expectApiError(
        client.responses.create({
          model: 'gpt-5-mini',
          input: [{ type: 'compaction', id: item.id, encrypted_content }],
        }),
        {
          status: 400,
          code: 'invalid_encrypted_content',
          param: null,
          message: `The encrypted content for item ${item.id} could not be verified. Reason: Encrypted content could not be decrypted or parsed.`,
        },
      );
    }
    const unknown = await http(emulator, 'POST', '/v1/responses/compact', {
      model: 'm',
      input: 'x',
      store: true,
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ error: { code: 'unknown_parameter', param: 'store' } });
    const missing = await http(emulator, 'POST', '/v1/responses/compact', { model: 'm' });
    expect(missing.json).toMatchObject({ error: { code: 'missing_required_parameter', param: 'input' } });
  });
});

describe('context_management (server-side compaction)', () => {
  const converse = async (
    turns: number,
    contextManagement?: OpenAI.Responses.ResponseCreateParams['context_management'],
  ) => {
    const responses: OpenAI.Responses.Response[] = [];
    for (let n = 0; n < turns; n++) {
      const body = {
        model: 'gpt-5-mini',
        input: turnText(n),
        ...(responses.length ? { previous_response_id: responses.at(-1)!.id } : {}),
        ...(contextManagement ? { context_management: contextManagement } : {}),
      };
      assertMatchesSchema('CreateResponse', body);
      responses.push(await client.responses.create(body));
    }
    return responses;
  };

  it('compacts when the window crosses compact_threshold, so the chain never hits the window', async () => {
    emulator.models.set('gpt-5-mini', { contextWindowTokens: 3000 });
    await expectApiError(converse(16), CONTEXT_ERROR);

    const responses = await converse(16, [{ type: 'compaction', compact_threshold: 1000 }]);
    const compacting = responses.filter((r) => r.output[0]?.type === 'compaction');
    expect(compacting.length).toBeGreaterThan(0);
    expect(responses[0]!.output[0]?.type).not.toBe('compaction');
    for (const r of responses) {
      expect(r.usage!.input_tokens).toBeLessThan(3000);
      assertMatchesSchema('Response', (await http(emulator, 'GET', `/v1/responses/${r.id}`)).json);
    }
    // Compaction keeps what the model needs: it still counts every user message of the chain.
    expect(memoryOf(responses.at(-1)!.output_text)).toMatchObject({
      users: 16,
      first: turnText(0).slice(0, 60),
    });
    const firstCompaction = responses.indexOf(compacting[0]!);
    expect(responses[firstCompaction + 1]!.usage!.input_tokens).toBeLessThan(
      responses[firstCompaction - 1]!.usage!.input_tokens,
    );
  });

  it('applies to a conversation object too; invalid entries name the field', async () => {
    emulator.models.set('gpt-5-mini', { contextWindowTokens: 2500 });
    const conv = await client.conversations.create({});
    for (let n = 0; n < 12; n++) {
      await client.responses.create({
        model: 'gpt-5-mini',
        conversation: conv.id,
        input: turnText(n),
        context_management: [{ type: 'compaction', compact_threshold: 1000 }],
      });
    }
    const items = await http(emulator, 'GET', `/v1/conversations/${conv.id}/items?limit=100&order=asc`);
    assertMatchesSchema('ConversationItemList', items.json);
    expect((items.json as { data: { type: string }[] }).data.some((i) => i.type === 'compaction')).toBe(true);

    for (const [context_management, param, code] of [
      [[], 'context_management', 'empty_array'],
      [[{ type: 'summarize' }], 'context_management[0].type', 'invalid_value'],
      [
        [{ type: 'compaction', compact_threshold: 999 }],
        'context_management[0].compact_threshold',
        'integer_below_min_value',
      ],
    ] as const) {
      const r = await http(emulator, 'POST', '/v1/responses', {
        model: 'gpt-5-mini',
        input: 'x',
        context_management,
      });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ error: { param, code } });
    }
  });
});
