import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { generateAssistantsFixture, startEmulator, type Emulator } from '../../src/emulator/server.js';
import { expectApiError, http, startHarness } from './support/harness.js';

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());

describe('assistants (read-only fixture)', () => {
  it('serves threads, messages with annotations, runs and tool-call steps', async () => {
    const thread = await client.beta.threads.retrieve('thread_fixture_travel');
    expect(thread).toMatchObject({ object: 'thread', metadata: { customer: 'acme', topic: 'travel' } });

    const messages = await client.beta.threads.messages.list(thread.id, { order: 'asc' });
    expect(messages.data.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    const cited = messages.data[3]!;
    const part = cited.content[0];
    if (part?.type !== 'text') throw new Error('expected text');
    expect(part.text.annotations[0]).toMatchObject({
      type: 'file_citation',
      file_citation: { file_id: 'file-lisbonguide01' },
    });
    const one = await client.beta.threads.messages.retrieve('msg_travel_2', { thread_id: thread.id });
    expect(one.run_id).toBe('run_travel_1');

    const runs = await client.beta.threads.runs.list(thread.id);
    expect(runs.data.map((r) => r.id)).toEqual(['run_travel_2', 'run_travel_1']);
    const run = await client.beta.threads.runs.retrieve('run_travel_1', { thread_id: thread.id });
    expect(run).toMatchObject({ status: 'completed', metadata: { channel: 'web' } });
    const steps = await client.beta.threads.runs.steps.list('run_travel_1', {
      thread_id: thread.id,
      order: 'asc',
    });
    expect(steps.data.map((s) => s.type)).toEqual(['tool_calls', 'message_creation']);
    const details = steps.data[0]!.step_details;
    if (details.type !== 'tool_calls') throw new Error('expected tool calls');
    expect(details.tool_calls[0]).toMatchObject({
      type: 'function',
      function: {
        name: 'get_weather',
        arguments: '{"city":"Lisbon"}',
        output: '{"temp_c":21,"sky":"clear"}',
      },
    });
  });

  it('pages with limit/after/before and 404s unknown ids', async () => {
    const page1 = await client.beta.threads.messages.list('thread_fixture_travel', { limit: 3 });
    expect(page1.data.map((m) => m.id)).toEqual(['msg_travel_4', 'msg_travel_3', 'msg_travel_2']);
    expect(page1.has_more).toBe(true);
    const page2 = await client.beta.threads.messages.list('thread_fixture_travel', {
      limit: 3,
      after: 'msg_travel_2',
    });
    expect(page2.data.map((m) => m.id)).toEqual(['msg_travel_1']);
    expect(page2.has_more).toBe(false);
    const before = await client.beta.threads.messages.list('thread_fixture_travel', {
      limit: 2,
      before: 'msg_travel_1',
    });
    expect(before.data.map((m) => m.id)).toEqual(['msg_travel_3', 'msg_travel_2']);
    const all: string[] = [];
    for await (const m of client.beta.threads.messages.list('thread_fixture_plain', {
      limit: 1,
      order: 'asc',
    }))
      all.push(m.id);
    expect(all).toEqual(['msg_plain_1', 'msg_plain_2', 'msg_plain_3', 'msg_plain_4']);
    const byRun = await http(
      emulator,
      'GET',
      '/v1/threads/thread_fixture_travel/messages?run_id=run_travel_2',
    );
    expect((byRun.json as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['msg_travel_4']);

    await expectApiError(client.beta.threads.retrieve('thread_nope'), { status: 404, code: null });
    await expectApiError(
      client.beta.threads.messages.retrieve('msg_nope', { thread_id: 'thread_fixture_travel' }),
      {
        status: 404,
      },
    );
    await expectApiError(client.beta.threads.messages.list('thread_fixture_travel', { limit: 1000 }), {
      status: 400,
      param: 'limit',
    });
  });

  it('generateAssistantsFixture is deterministic and serves 500 threads', async () => {
    const a = generateAssistantsFixture({ threads: 500, messagesPerThread: 4, seed: 7 });
    const b = generateAssistantsFixture({ threads: 500, messagesPerThread: 4, seed: 7 });
    const c = generateAssistantsFixture({ threads: 500, messagesPerThread: 4, seed: 8 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
    expect(a.threads).toHaveLength(500);
    expect(a.messages).toHaveLength(2000);
    expect(a.runs).toHaveLength(1000);
    expect(a.steps.some((s) => s.step_details.type === 'tool_calls')).toBe(true);
    expect(a.messages.some((m) => (m.content[0]?.text.annotations.length ?? 0) > 0)).toBe(true);
    expect(new Set(a.threads.map((t) => t.id)).size).toBe(500);

    const big = await startEmulator({ assistantsFixture: a });
    try {
      const ids: string[] = [];
      let after: string | undefined;
      for (;;) {
        const res = await fetch(`${big.origin}/_emulator/threads?limit=100${after ? `&after=${after}` : ''}`);
        const page = (await res.json()) as { data: { id: string }[]; has_more: boolean; last_id: string };
        ids.push(...page.data.map((t) => t.id));
        if (!page.has_more) break;
        after = page.last_id;
      }
      expect(ids).toEqual(a.threads.map((t) => t.id));
    } finally {
      await big.close();
    }
  });
});
