import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { Emulator } from '../../src/emulator/server.js';
import { expectApiError, memoryOf, startHarness } from './support/harness.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());

const msg = (text: string) => ({ type: 'message' as const, role: 'user' as const, content: text });

describe('conversations', () => {
  it('create, retrieve, update metadata, delete', async () => {
    const conv = await client.conversations.create({ metadata: { topic: 'demo' }, items: [msg('hi')] });
    expect(conv).toMatchObject({ object: 'conversation', metadata: { topic: 'demo' } });
    expect(conv.id).toMatch(/^conv_/);
    expect((await client.conversations.retrieve(conv.id)).id).toBe(conv.id);
    const updated = await client.conversations.update(conv.id, { metadata: { topic: 'other' } });
    expect(updated.metadata).toEqual({ topic: 'other' });
    expect(await client.conversations.delete(conv.id)).toEqual({
      id: conv.id,
      object: 'conversation.deleted',
      deleted: true,
    });
    await expectApiError(client.conversations.retrieve(conv.id), {
      status: 404,
      code: null,
      message: `Conversation with id '${conv.id}' not found.`,
    });
  });

  it('limits items to 20 per call', async () => {
    const many = Array.from({ length: 21 }, (_, i) => msg(`m${i}`));
    await expectApiError(client.conversations.create({ items: many }), {
      status: 400,
      param: 'items',
      code: 'array_above_max_length',
    });
    const conv = await client.conversations.create({ items: many.slice(0, 20) });
    await expectApiError(client.conversations.items.create(conv.id, { items: many }), {
      status: 400,
      param: 'items',
    });
    await expectApiError(client.conversations.items.create(conv.id, { items: [] }), {
      status: 400,
      param: 'items',
    });
  });

  it('adds, pages, retrieves and deletes items', async () => {
    const conv = await client.conversations.create({});
    const added = await client.conversations.items.create(conv.id, {
      items: Array.from({ length: 5 }, (_, i) => msg(`m${i}`)),
    });
    expect(added.data).toHaveLength(5);
    const texts = (items: OpenAI.Conversations.ConversationItem[]) =>
      items.map((i) => (i.type === 'message' ? (i.content[0] as { text: string }).text : i.type));
    const page = await client.conversations.items.list(conv.id, { limit: 2 });
    expect(texts(page.data)).toEqual(['m4', 'm3']);
    expect(page.has_more).toBe(true);
    const asc: string[] = [];
    for await (const item of client.conversations.items.list(conv.id, { limit: 2, order: 'asc' }))
      asc.push(...texts([item]));
    expect(asc).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);

    const first = added.data[0]!;
    const got = await client.conversations.items.retrieve(first.id!, { conversation_id: conv.id });
    expect(got).toMatchObject({ id: first.id, type: 'message', role: 'user', status: 'completed' });
    const after = await client.conversations.items.delete(first.id!, { conversation_id: conv.id });
    expect(after).toMatchObject({ id: conv.id, object: 'conversation' });
    await expectApiError(client.conversations.items.retrieve(first.id!, { conversation_id: conv.id }), {
      status: 404,
    });
  });

  it('feeds the conversation to the model and appends input and output', async () => {
    const conv = await client.conversations.create({ items: [msg('I like tea')] });
    const r1 = await client.responses.create({ model: 'm', conversation: conv.id, input: 'what do I like?' });
    expect(r1.conversation).toEqual({ id: conv.id });
    expect(memoryOf(r1.output_text)).toMatchObject({ users: 2, first: 'I like tea' });
    expect(r1.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(0);
    const r2 = await client.responses.create({ model: 'm', conversation: { id: conv.id }, input: 'again' });
    expect(memoryOf(r2.output_text).users).toBe(3);
    const items = await client.conversations.items.list(conv.id, { order: 'asc' });
    expect(items.data.map((i) => (i.type === 'message' ? i.role : i.type))).toEqual([
      'user',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
  });
});
