import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { expectApiError, http, startHarness } from './support/harness.js';
import { assertMatchesSchema } from './support/schemas.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

type Wire = {
  id: string;
  status: string;
  completed_at: number | null;
  incomplete_details: { reason: string } | null;
  output: {
    type: string;
    id: string;
    status?: string;
    summary?: unknown[];
    encrypted_content?: string;
    content?: { text: string }[];
  }[];
  reasoning: { effort: string | null };
  usage: { input_tokens: number; output_tokens: number; output_tokens_details: { reasoning_tokens: number } };
};

const create = async (body: Record<string, unknown>): Promise<Wire> => {
  const res = await http(emulator, 'POST', '/v1/responses', body);
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  assertMatchesSchema('Response', res.json);
  return res.json as Wire;
};

describe('reasoning items switch', () => {
  it('on by default, as the live API; off per model at run time, reasoning models answer as chat models do', async () => {
    const plain = await startHarness();
    try {
      const on = await plain.client.responses.create({ model: 'gpt-5-mini', input: 'hi' });
      expect(on.output.map((i) => i.type)).toEqual(['reasoning', 'message']);
      expect(on.usage!.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
      const set = await http(
        plain.emulator,
        'POST',
        '/_emulator/models/gpt-5-mini',
        { reasoningItems: false },
        {},
      );
      expect(set.json).toMatchObject({ family: 'reasoning', reasoningItems: false });
      const off = await plain.client.responses.create({ model: 'gpt-5-mini', input: 'hi' });
      expect(off.output.map((i) => i.type)).toEqual(['message']);
      expect(off.usage!.output_tokens_details.reasoning_tokens).toBe(0);
    } finally {
      await plain.emulator.close();
    }
  });
});

describe('reasoning models', () => {
  it('gpt-5* and o-series think first: a reasoning item whose tokens count as output', async () => {
    const r = await create({ model: 'gpt-5-mini', input: 'hello' });
    expect(r.output.map((i) => i.type)).toEqual(['reasoning', 'message']);
    const [reasoning] = r.output;
    expect(reasoning).toEqual({ type: 'reasoning', id: expect.stringMatching(/^rs_/), summary: [] });
    expect(r.reasoning.effort).toBe('medium');
    // medium: 32 + ceil(input / 1000)
    expect(r.usage.output_tokens_details.reasoning_tokens).toBe(33);
    const message = r.output[1]!;
    const messageTokens = 4 + Math.ceil(message.content![0]!.text.length / 4);
    expect(r.usage.output_tokens).toBe(33 + messageTokens);

    const o3 = await create({ model: 'o3', input: 'hello', reasoning: { effort: 'high' } });
    expect(o3.usage.output_tokens_details.reasoning_tokens).toBe(65);
    const low = await create({ model: 'gpt-5', input: 'hello', reasoning: { effort: 'low' } });
    expect(low.usage.output_tokens_details.reasoning_tokens).toBe(17);
    const none = await create({ model: 'gpt-5.1', input: 'hello', reasoning: { effort: 'none' } });
    expect(none.output.map((i) => i.type)).toEqual(['message']);
    expect(none.usage.output_tokens_details.reasoning_tokens).toBe(0);

    const chat = await create({ model: 'gpt-4.1', input: 'hello' });
    expect(chat.output.map((i) => i.type)).toEqual(['message']);
    expect(chat.reasoning.effort).toBeNull();

    await expectApiError(
      client.responses.create({ model: 'gpt-5', input: 'x', reasoning: { effort: 'extreme' as never } }),
      { status: 400, param: 'reasoning.effort', code: 'invalid_value' },
    );
  });

  it('a concierge-sized cap (800) on an ordinary turn completes', async () => {
    const r = await create({ model: 'gpt-5-mini', input: 'x'.repeat(2000), max_output_tokens: 800 });
    expect(r.status).toBe('completed');
  });
});

describe('status incomplete', () => {
  it('max_output_tokens spent on reasoning: a lone reasoning item and no message (live behaviour)', async () => {
    emulator.models.set('gpt-5-mini', { reasoningTokens: 100 });
    const r = await create({ model: 'gpt-5-mini', input: 'hello', max_output_tokens: 50 });
    expect(r).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      completed_at: null,
    });
    expect(r.output.map((i) => i.type)).toEqual(['reasoning']);
    expect(r.usage.output_tokens).toBe(50);
    expect(r.usage.output_tokens_details.reasoning_tokens).toBe(50);
    const sdk = await client.responses.retrieve(r.id);
    expect(sdk.output_text).toBe('');
  });

  it('a cap past the reasoning cuts the message, which is marked incomplete', async () => {
    emulator.models.set('gpt-5-mini', { reasoningTokens: 20 });
    const r = await create({ model: 'gpt-5-mini', input: 'y'.repeat(400), max_output_tokens: 40 });
    expect(r.status).toBe('incomplete');
    expect(r.output.map((i) => [i.type, i.status])).toEqual([
      ['reasoning', undefined],
      ['message', 'incomplete'],
    ]);
    expect(r.output[1]!.content![0]!.text).toBe('You said: "'.concat('y'.repeat(53)));
    expect(r.usage.output_tokens).toBe(40);
    // The default reasoning cost (medium: 32 + ...) already overflows the minimum cap.
    emulator.reset();
    const tiny = await create({ model: 'gpt-5-mini', input: 'hi', max_output_tokens: 16 });
    expect(tiny.output.map((i) => i.type)).toEqual(['reasoning']);
    // Non-reasoning models are capped too.
    const chat = await create({ model: 'gpt-4o', input: 'z'.repeat(400), max_output_tokens: 16 });
    expect(chat).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });

  it('the content filter phrase stops the answer part-way with reason content_filter', async () => {
    const r = await create({ model: 'gpt-5-mini', input: 'please trip the content filter now' });
    expect(r).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'content_filter' } });
    const message = r.output.find((i) => i.type === 'message')!;
    expect(message.status).toBe('incomplete');
    const full =
      'You said: "please trip the content filter now" [context: 1 user messages; first: "please trip the content filter now"; instructions: no]';
    expect(message.content![0]!.text).toBe(full.slice(0, Math.floor(full.length / 2)));
  });
});

describe('reasoning items passed back as input', () => {
  const followUp = (r: Wire) => [r.output[0], { role: 'assistant', content: 'earlier answer' }];

  it("include ['reasoning.encrypted_content'] makes them portable to store:false requests", async () => {
    const r = await create({
      model: 'gpt-5-mini',
      input: 'hello',
      store: false,
      include: ['reasoning.encrypted_content'],
    });
    expect(r.output[0]!.encrypted_content).toEqual(expect.any(String));
    const next = await create({
      model: 'gpt-5-mini',
      store: false,
      input: [
        { role: 'user', content: 'hello' },
        r.output[0],
        r.output[1],
        { role: 'user', content: 'again' },
      ],
    });
    expect(next.status).toBe('completed');

    await expectApiError(
      client.responses.create({
        model: 'gpt-5-mini',
        store: false,
        input: [
          { ...r.output[0], encrypted_content: 'gAAAAforged' },
          { role: 'assistant', content: 'x' },
        ] as never,
      }),
      {
        status: 400,
        code: 'invalid_encrypted_content',
        param: null,
        message: `The encrypted content for item ${r.output[0]!.id} could not be verified. Reason: Encrypted content could not be decrypted or parsed.`,
      },
    );
  });

  it('without encrypted_content: only by id, from a response still stored, never under store:false', async () => {
    const stored = await create({ model: 'gpt-5-mini', input: 'hello' });
    await create({ model: 'gpt-5-mini', input: followUp(stored) });
    const notPersisted = (id: string) => ({
      status: 400,
      param: 'input',
      code: null,
      message: `Item with id '${id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
    });
    const rsId = stored.output[0]!.id;
    await expectApiError(
      client.responses.create({ model: 'gpt-5-mini', store: false, input: followUp(stored) as never }),
      notPersisted(rsId),
    );
    const unstored = await create({ model: 'gpt-5-mini', input: 'hello', store: false });
    await expectApiError(
      client.responses.create({ model: 'gpt-5-mini', input: followUp(unstored) as never }),
      notPersisted(unstored.output[0]!.id),
    );
    emulator.expireResponse(stored.id);
    await expectApiError(
      client.responses.create({ model: 'gpt-5-mini', input: followUp(stored) as never }),
      notPersisted(rsId),
    );
  });

  it('a reasoning item needs the item it was produced with after it', async () => {
    const stored = await create({ model: 'gpt-5-mini', input: 'hello' });
    await expectApiError(
      client.responses.create({
        model: 'gpt-5-mini',
        input: [stored.output[0], { role: 'user', content: 'next' }] as never,
      }),
      {
        status: 400,
        param: 'input',
        message: `Item '${stored.output[0]!.id}' of type 'reasoning' was provided without its required following item.`,
      },
    );
  });
});

describe('unsupported parameters per model family', () => {
  const refused = (param: string) => ({
    status: 400,
    type: 'invalid_request_error',
    code: 'unsupported_parameter',
    param,
    message: `Unsupported parameter: '${param}' is not supported with this model.`,
  });

  it('reasoning models refuse sampling controls', async () => {
    for (const model of ['gpt-5-mini', 'gpt-5', 'o3', 'o4-mini']) {
      await expectApiError(
        client.responses.create({ model, input: 'x', temperature: 0.2 }),
        refused('temperature'),
      );
      await expectApiError(client.responses.create({ model, input: 'x', top_p: 0.5 }), refused('top_p'));
    }
    await expectApiError(
      client.responses.create({ model: 'gpt-5-mini', input: 'x', top_logprobs: 2 }),
      refused('top_logprobs'),
    );
    // null means unset, as the SDKs send it.
    await create({ model: 'gpt-5-mini', input: 'x', temperature: null });
    const raw = await http(emulator, 'POST', '/v1/responses', { model: 'o3', input: 'x', temperature: 1 });
    expect(raw.status).toBe(400);
    assertMatchesSchema('ErrorResponse', raw.json);
  });

  it('chat models refuse reasoning settings; both families take what they support', async () => {
    for (const model of ['gpt-4o', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-5-chat-latest']) {
      await expectApiError(
        client.responses.create({ model, input: 'x', reasoning: { effort: 'low' } }),
        refused('reasoning.effort'),
      );
    }
    await expectApiError(
      client.responses.create({ model: 'gpt-4o', input: 'x', reasoning: { summary: 'auto' } }),
      refused('reasoning.summary'),
    );
    await create({ model: 'gpt-4o', input: 'x', temperature: 0.2, top_p: 0.9 });
    await create({ model: 'gpt-5-mini', input: 'x', reasoning: { effort: 'minimal', summary: 'auto' } });
  });
});
