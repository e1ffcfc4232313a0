import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { expectApiError, http, memoryOf, startHarness } from './support/harness.js';

let emulator: Emulator;
let client: OpenAI;

beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

const text = (r: { output_text: string }) => r.output_text;

describe('POST /v1/responses', () => {
  it('creates, retrieves and deletes a stored response', async () => {
    const created = await client.responses.create({
      model: 'gpt-4.1',
      input: 'hello there',
      metadata: { k: 'v' },
    });
    expect(created.id).toMatch(/^resp_/);
    expect(created.object).toBe('response');
    expect(created.status).toBe('completed');
    expect(created).toMatchObject({ store: true });
    expect(created.conversation).toBeNull();
    expect(created.metadata).toEqual({ k: 'v' });
    expect(text(created)).toBe(
      'You said: "hello there" [context: 1 user messages; first: "hello there"; instructions: no]',
    );
    expect(created.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(created.usage?.input_tokens_details.cached_tokens).toBe(0);
    expect(created.usage?.total_tokens).toBe(
      (created.usage?.input_tokens ?? 0) + (created.usage?.output_tokens ?? 0),
    );

    const raw = await http(emulator, 'GET', `/v1/responses/${created.id}`);
    expect(raw.json).not.toHaveProperty('output_text');
    const again = await client.responses.retrieve(created.id);
    expect(again.id).toBe(created.id);

    const deleted = await http(emulator, 'DELETE', `/v1/responses/${created.id}`);
    expect(deleted.json).toEqual({ id: created.id, object: 'response.deleted', deleted: true });
    await expectApiError(client.responses.retrieve(created.id), {
      status: 404,
      code: null,
      param: null,
      message: `Response with id '${created.id}' not found.`,
    });
  });

  it('pages input items in both orders', async () => {
    const input = Array.from({ length: 5 }, (_, i) => ({ role: 'user' as const, content: `m${i}` }));
    const r = await client.responses.create({ model: 'gpt-4.1', input });
    const desc = await client.responses.inputItems.list(r.id, { limit: 2 });
    const texts = (items: { type: string; content?: unknown }[]) =>
      items.map((i) => ((i.content as { text: string }[])[0] ?? { text: '' }).text);
    expect(texts(desc.data)).toEqual(['m4', 'm3']);
    expect(desc.has_more).toBe(true);
    const all: string[] = [];
    for await (const item of client.responses.inputItems.list(r.id, { limit: 2, order: 'asc' })) {
      expect(item.id).toBeTruthy();
      all.push(...texts([item]));
    }
    expect(all).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    await expectApiError(client.responses.inputItems.list(r.id, { limit: 101 }), {
      status: 400,
      param: 'limit',
      code: 'integer_above_max_value',
    });
    await expectApiError(client.responses.inputItems.list(r.id, { limit: 0 }), {
      status: 400,
      param: 'limit',
    });
  });

  it('remembers across three chained calls and counts the chain as cached', async () => {
    const a = await client.responses.create({
      model: 'gpt-4.1',
      input: 'my name is Ada',
      instructions: 'be nice',
    });
    const b = await client.responses.create({
      model: 'gpt-4.1',
      input: 'what is my name?',
      previous_response_id: a.id,
    });
    const c = await client.responses.create({
      model: 'gpt-4.1',
      input: 'and again?',
      previous_response_id: b.id,
    });
    expect(memoryOf(text(a))).toEqual({ users: 1, first: 'my name is Ada', instructions: true });
    // Instructions are not carried over a previous_response_id chain.
    expect(memoryOf(text(b))).toEqual({ users: 2, first: 'my name is Ada', instructions: false });
    expect(memoryOf(text(c))).toEqual({ users: 3, first: 'my name is Ada', instructions: false });
    expect(c.previous_response_id).toBe(b.id);
    expect(c.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(
      b.usage!.input_tokens_details.cached_tokens,
    );
    expect(b.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('store=false cannot be chained', async () => {
    const r = await client.responses.create({ model: 'gpt-4.1', input: 'x', store: false });
    expect(r).toMatchObject({ store: false });
    await expectApiError(
      client.responses.create({ model: 'gpt-4.1', input: 'y', previous_response_id: r.id }),
      {
        status: 400,
        type: 'invalid_request_error',
        code: 'previous_response_not_found',
        param: 'previous_response_id',
        message: `Previous response with id '${r.id}' not found.`,
      },
    );
    await expectApiError(client.responses.retrieve(r.id), { status: 404 });
  });

  it('forced expiry, age past retention and deletion all give previous_response_not_found', async () => {
    const forced = await client.responses.create({ model: 'gpt-4.1', input: 'a' });
    emulator.expireResponse(forced.id);
    await expectApiError(
      client.responses.create({ model: 'm', input: 'b', previous_response_id: forced.id }),
      {
        status: 400,
        code: 'previous_response_not_found',
        param: 'previous_response_id',
      },
    );
    await expectApiError(client.responses.retrieve(forced.id), { status: 404, code: null });

    const old = await client.responses.create({ model: 'gpt-4.1', input: 'a' });
    emulator.clock.advance(29 * 24 * 3600 * 1000);
    await client.responses.create({ model: 'm', input: 'still here', previous_response_id: old.id });
    emulator.clock.advance(2 * 24 * 3600 * 1000);
    await expectApiError(client.responses.create({ model: 'm', input: 'b', previous_response_id: old.id }), {
      status: 400,
      code: 'previous_response_not_found',
      message: `Previous response with id '${old.id}' not found.`,
    });

    const gone = await client.responses.create({ model: 'gpt-4.1', input: 'a' });
    await client.responses.delete(gone.id);
    await expectApiError(client.responses.create({ model: 'm', input: 'b', previous_response_id: gone.id }), {
      status: 400,
      code: 'previous_response_not_found',
      param: 'previous_response_id',
    });
    await expectApiError(
      client.responses.create({ model: 'm', input: 'b', previous_response_id: 'resp_nope' }),
      {
        status: 400,
        code: 'previous_response_not_found',
      },
    );
  });

  it('keeps the chain of a live response whose ancestor is gone', async () => {
    const a = await client.responses.create({ model: 'm', input: 'one' });
    const b = await client.responses.create({ model: 'm', input: 'two', previous_response_id: a.id });
    await client.responses.delete(a.id);
    const c = await client.responses.create({ model: 'm', input: 'three', previous_response_id: b.id });
    expect(memoryOf(text(c)).users).toBe(3);
  });

  it('rejects previous_response_id with conversation, and unknown conversations', async () => {
    const a = await client.responses.create({ model: 'm', input: 'one' });
    const conv = await client.conversations.create({});
    await expectApiError(
      client.responses.create({ model: 'm', input: 'x', previous_response_id: a.id, conversation: conv.id }),
      {
        status: 400,
        code: 'mutually_exclusive_parameters',
        param: null,
        message: /^Mutually exclusive parameters: /,
      },
    );
    await expectApiError(client.responses.create({ model: 'm', input: 'x', conversation: 'conv_missing' }), {
      status: 404,
      code: null,
      message: "Conversation with id 'conv_missing' not found.",
    });
  });

  it('validates metadata limits, unknown parameters, model and stream', async () => {
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    await expectApiError(client.responses.create({ model: 'm', input: 'x', metadata: tooMany }), {
      status: 400,
      param: 'metadata',
      code: 'object_above_max_properties',
    });
    await expectApiError(
      client.responses.create({ model: 'm', input: 'x', metadata: { ['k'.repeat(65)]: 'v' } }),
      {
        status: 400,
        param: 'metadata',
      },
    );
    await expectApiError(
      client.responses.create({ model: 'm', input: 'x', metadata: { k: 'v'.repeat(513) } }),
      {
        status: 400,
        param: 'metadata.k',
        code: 'string_above_max_length',
      },
    );
    const ok = await client.responses.create({
      model: 'm',
      input: 'x',
      metadata: {
        ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'v'])),
        ['k'.repeat(64)]: 'v'.repeat(512),
      },
    });
    expect(Object.keys(ok.metadata ?? {})).toHaveLength(16);

    await expectApiError(client.responses.create({ model: 'm', input: 'x', bogus: 1 } as never), {
      status: 400,
      code: 'unknown_parameter',
      param: 'bogus',
      message: 'Unrecognized request argument supplied: bogus',
    });
    await expectApiError(client.responses.create({ input: 'x' } as never), {
      status: 400,
      param: 'model',
      code: 'missing_required_parameter',
    });
    // Streaming itself is covered in streaming.test.ts; a non-boolean flag is a 400 naming it.
    const streamed = await http(emulator, 'POST', '/v1/responses', { model: 'm', input: 'x', stream: 'yes' });
    expect(streamed.status).toBe(400);
    expect(streamed.json).toMatchObject({ error: { param: 'stream' } });
  });

  it('needs a bearer key and stamps every answer with x-request-id', async () => {
    const noKey = await http(emulator, 'POST', '/v1/responses', { model: 'm', input: 'x' }, {});
    expect(noKey.status).toBe(401);
    expect(noKey.json).toMatchObject({ error: { type: 'invalid_request_error', code: null, param: null } });
    expect(noKey.headers.get('x-request-id')).toMatch(/^req_/);
    for (const [method, path] of [
      ['GET', '/v1/responses/resp_missing'],
      ['GET', '/v1/nowhere'],
      ['GET', '/_emulator/health'],
      ['POST', '/v1/responses'],
    ] as const) {
      const res = await http(
        emulator,
        method,
        path,
        method === 'POST' ? { model: 'm', input: 'hi' } : undefined,
      );
      expect(res.headers.get('x-request-id'), `${method} ${path}`).toMatch(/^req_/);
    }
    const badJson = await fetch(`${emulator.baseUrl}/responses`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: '{oops',
    });
    expect(badJson.status).toBe(400);
    expect(badJson.headers.get('x-request-id')).toMatch(/^req_/);
  });
});
