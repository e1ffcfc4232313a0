import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/activities/history.js';
import { withTransaction } from '../../src/store/pool.js';
import { appendItems } from '../../src/store/transcript.js';
import type { FaultRule } from '../../src/emulator/faults.js';
import { validatorFor } from '../emulator/support/schemas.js';
import {
  recordHistory,
  responseRequests,
  seen,
  startHarness,
  testAgent,
  testTools,
  type Harness,
} from './harness.js';

/** Server-side state gone mid-conversation: every variant recovers from the Postgres transcript. */
let h: Harness;
const BUDGET = 120;
beforeAll(async () => {
  h = await startHarness({
    agents: [
      testAgent('chain'),
      testAgent('instr', { recovery: 'instructions' }),
      testAgent('tight', { historyTokenBudget: BUDGET }),
      testAgent('conv', { strategy: 'conversation' }),
      testAgent('stateless', { strategy: 'stateless' }),
      testAgent('chat', { strategy: 'stateless', provider: 'chat-completions', tools: testTools([], 5) }),
      testAgent('instr-tools', { recovery: 'instructions', tools: testTools([], 5) }),
      testAgent('chain-tools', { tools: testTools([], 5) }),
      testAgent('conv-tools', { strategy: 'conversation', tools: testTools([], 5) }),
    ],
  });
});
afterAll(async () => h?.close());
afterEach(() => h.emulator.faults.clear());

async function modelCalls(conversationId: string) {
  const { rows } = await h.db.pool.query<{
    turn: number;
    recovered: boolean;
    recovery: string | null;
    input_tokens: number;
  }>(
    'SELECT turn, recovered, recovery, input_tokens FROM model_calls WHERE conversation_id = $1 ORDER BY turn, step',
    [conversationId],
  );
  return rows;
}

const onChainedCall = { path: '^/v1/responses$', bodyIncludes: '"previous_response_id"' };

describe('expiry recovery (previous_response_id)', () => {
  const variants: [string, (h: Harness, lastResponseId: string) => void][] = [
    ['expired after 30 days (emulator clock)', (h) => h.emulator.clock.advance(31 * 24 * 3600 * 1000)],
    [
      'deleted or force-expired (live 400 previous_response_not_found)',
      (h, id) => h.emulator.expireResponse(id),
    ],
    [
      "a proxy's 400 Invalid 'previous_response_id'",
      (h) =>
        h.emulator.faults.add({
          kind: 'error',
          errorStatus: 400,
          error: { message: "Invalid 'previous_response_id'.", code: 'invalid_request_error', param: null },
          match: onChainedCall,
        } as FaultRule),
    ],
    [
      "a backend's 'has expired' message",
      (h, id) =>
        h.emulator.faults.add({
          kind: 'error',
          errorStatus: 400,
          error: { message: `Response with id '${id}' has expired.` },
          match: onChainedCall,
        } as FaultRule),
    ],
    [
      'a 404 on the response id',
      (h, id) =>
        h.emulator.faults.add({
          kind: 'error',
          errorStatus: 404,
          error: { message: `Response with id '${id}' not found.`, code: null },
          match: onChainedCall,
        } as FaultRule),
    ],
  ];

  it.each(variants)(
    '%s: the turn re-sends the history and the model still remembers',
    async (_name, expire) => {
      const c = h.conversation('chain');
      await c.send('I am Grace.');
      const second = await c.send('I like compilers.');
      expire(h, second.responseId!);

      const third = await c.send('Who am I?');
      expect(third.status).toBe('answered');
      expect(seen(third.text)).toEqual({ userMessages: 3, first: 'I am Grace.' });
      const recovery = responseRequests(h.emulator).at(-1)!;
      expect(recovery.previous_response_id).toBeUndefined();
      // The whole history from Postgres: three user messages and, in between, each earlier turn's
      // reasoning item (with its encrypted content) and reply.
      expect((recovery.input as unknown[]).length).toBe(7);
      expect(await modelCalls(c.workflowId)).toEqual([
        expect.objectContaining({ turn: 1, recovered: false }),
        expect.objectContaining({ turn: 2, recovered: false }),
        expect.objectContaining({ turn: 3, recovered: true, recovery: 'history_items' }),
      ]);
      expect((await c.state()).usage.recoveries).toBe(1);
      // What the Temporal UI shows on the workflow's page (its built-in metadata query).
      const metadata = await c.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toMatch(
        /^Turn 3: answered in 1 model step\(s\), 0 tool round\(s\), recovered \(history_items\)/,
      );

      // The next turn chains on the recovered response again.
      const fourth = await c.send('And now?');
      expect(responseRequests(h.emulator).at(-1)!.previous_response_id).toBe(third.responseId);
      expect(seen(fourth.text).userMessages).toBe(4);
      if (_name.startsWith('deleted')) await recordHistory('v1-expiry-recovery', c.handle);
    },
  );

  it('option: recovery through the instructions instead of input items', async () => {
    const c = h.conversation('instr');
    await c.send('My dog is called Rex.');
    const second = await c.send('He is three.');
    h.emulator.expireResponse(second.responseId!);
    const third = await c.send('What is his name?');
    const request = responseRequests(h.emulator).at(-1)!;
    expect(request.instructions).toContain('The conversation so far (restored from the transcript):');
    expect(request.instructions).toContain('User: My dog is called Rex.');
    expect(request.instructions).toContain('User: He is three.');
    expect(request.input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is his name?' }] },
    ]);
    expect(seen(third.text).userMessages).toBe(1);
    expect((await modelCalls(c.workflowId)).at(-1)).toMatchObject({
      recovered: true,
      recovery: 'history_instructions',
    });
  });

  it('the re-sent history is bounded by the token budget, newest first', async () => {
    const c = h.conversation('tight');
    for (let i = 1; i <= 8; i++) await c.send(`message ${i}: ${'lorem ipsum '.repeat(10)}`);
    const last = await c.send('the newest');
    h.emulator.expireResponse(last.responseId!);
    const recovered = await c.send('after expiry');
    const input = responseRequests(h.emulator).at(-1)!.input as Record<string, unknown>[];
    const tokens = input.reduce((sum, item) => sum + estimateTokens(item), 0);
    expect(tokens).toBeLessThanOrEqual(BUDGET);
    expect(seen(recovered.text).userMessages).toBeLessThan(10);
    expect(seen(recovered.text).userMessages).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(input.at(-1))).toContain('after expiry');
    expect(input[0]!.type).toBe('message');
  });
});

describe('recovery in a tool round (step 2 sends tool outputs)', () => {
  // The state vanishes between the model's function call and the call that hands it the output.
  const onToolOutputs = { path: '^/v1/responses$', bodyIncludes: '"function_call_output"' };
  const weather = 'call get_weather {"city":"Lima"}';

  it.each(['instr-tools', 'chain-tools'])(
    '%s: the recovery sends the function call with its output, and the turn answers',
    async (agent) => {
      const c = h.conversation(agent);
      await c.send('I am Ada.');
      h.emulator.faults.add({
        kind: 'error',
        errorStatus: 400,
        error: {
          message: "Previous response with id 'resp_x' not found.",
          code: 'previous_response_not_found',
        },
        match: onToolOutputs,
      } as FaultRule);
      const reply = await c.send(weather);
      expect(reply.status).toBe('answered');
      expect(reply.text).toMatch(/^Tool results: get_weather -> .*Lima/);
      const recovery = responseRequests(h.emulator).at(-1)!;
      const types = (recovery.input as { type: string }[]).map((i) => i.type);
      expect(types.slice(-2)).toEqual(['function_call', 'function_call_output']);
      if (agent === 'instr-tools') expect(recovery.instructions).toContain('User: I am Ada.');
      expect((await modelCalls(c.workflowId)).at(-1)).toMatchObject({ recovered: true });
    },
  );

  it('conversation-tools: a conversation recreated mid-round gets the call with its output', async () => {
    const c = h.conversation('conv-tools');
    await c.send('I am Ada.');
    h.emulator.faults.add({
      kind: 'error',
      errorStatus: 404,
      error: { message: "Conversation with id 'conv_x' not found.", code: null },
      match: onToolOutputs,
    } as FaultRule);
    const reply = await c.send(weather);
    expect(reply.status).toBe('answered');
    expect(reply.text).toMatch(/^Tool results: get_weather -> .*Lima/);
    const last = responseRequests(h.emulator).at(-1)!;
    expect((last.input as { type: string }[]).map((i) => i.type)).toEqual([
      'function_call',
      'function_call_output',
    ]);
    expect((await modelCalls(c.workflowId)).at(-1)).toMatchObject({
      recovered: true,
      recovery: 'conversation_recreated',
    });
    const next = await c.send('Who am I?');
    expect(seen(next.text)).toEqual({ userMessages: 3, first: 'I am Ada.' });
  });
});

describe('strategies', () => {
  it('previous_response_id: the first call sends history already in the transcript (e.g. migrated), then chains', async () => {
    const c = h.conversation('chain');
    const user = (text: string) => ({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text }],
    });
    const assistant = (text: string) => ({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [] }],
    });
    await withTransaction(h.db.pool, (tx) =>
      appendItems(tx, c.workflowId, [
        { itemKey: 'migrated/1', item: user('Hi, I ordered a lamp.'), turn: null },
        { itemKey: 'migrated/2', item: assistant('Thanks, order 42 is on its way.'), turn: null },
      ]),
    );
    const first = await c.send('Where is it now?');
    expect(seen(first.text)).toEqual({ userMessages: 2, first: 'Hi, I ordered a lamp.' });
    expect(responseRequests(h.emulator).at(-1)!.previous_response_id).toBeUndefined();
    const second = await c.send('Thanks.');
    const chained = responseRequests(h.emulator).at(-1)!;
    expect(chained.previous_response_id).toBe(first.responseId);
    expect(chained.input).toHaveLength(1);
    expect(seen(second.text).userMessages).toBe(3);
  });

  it('conversation: an OpenAI conversation holds the state; a deleted one is recreated and seeded', async () => {
    const c = h.conversation('conv');
    for (let i = 1; i <= 11; i++) await c.send(`line ${i}`);
    const { rows } = await h.db.pool.query<{ openai_conversation_id: string }>(
      'SELECT openai_conversation_id FROM conversations WHERE id = $1',
      [c.workflowId],
    );
    const conversationId = rows[0]!.openai_conversation_id;
    expect(conversationId).toMatch(/^conv_/);
    const chained = responseRequests(h.emulator).slice(-11);
    expect(new Set(chained.map((r) => r.conversation))).toEqual(new Set([conversationId]));
    expect(chained.every((r) => r.previous_response_id === undefined)).toBe(true);

    const openai = new OpenAI({ baseURL: h.emulator.baseUrl, apiKey: 'test', maxRetries: 0 });
    await openai.conversations.delete(conversationId);
    const before = h.emulator.requests().length;
    const reply = await c.send('still there?');
    expect(seen(reply.text)).toEqual({ userMessages: 12, first: 'line 1' });
    const seeding = h.emulator
      .requests()
      .slice(before)
      .filter((r) => /^\/v1\/conversations\/[^/]+\/items$/.test(r.path) && r.method === 'POST');
    // 22 earlier items (11 turns), at most 20 per call.
    expect(seeding.map((r) => (r.body as { items: unknown[] }).items.length)).toEqual([20, 2]);
    expect((await modelCalls(c.workflowId)).at(-1)).toMatchObject({
      recovered: true,
      recovery: 'conversation_recreated',
    });
    await recordHistory('v1-conversation-strategy', c.handle);
  });

  it('stateless: the history comes from Postgres on every call, store=false', async () => {
    const c = h.conversation('stateless');
    await c.send('alpha');
    await c.send('beta');
    const third = await c.send('gamma');
    expect(seen(third.text)).toEqual({ userMessages: 3, first: 'alpha' });
    const requests = responseRequests(h.emulator).slice(-3);
    expect(requests.map((r) => r.store)).toEqual([false, false, false]);
    // Each earlier turn comes back as user message, reasoning item (encrypted content) and reply.
    expect(requests.map((r) => (r.input as unknown[]).length)).toEqual([1, 4, 7]);
    expect(requests.every((r) => r.previous_response_id === undefined)).toBe(true);
    expect((await c.state()).strategy).toBe('stateless');
  });
});

describe('the chat-completions provider', () => {
  it('sends the history from Postgres as chat messages, maps tool calls both ways, keeps the transcript in one shape', async () => {
    const c = h.conversation('chat');
    await c.send('My name is Lin.');
    const tools = await c.send('call get_time {"zone":"Asia/Shanghai"}');
    expect(tools.text).toMatch(/^Tool results: get_time -> .*12:00/);
    const third = await c.send('Who am I?');
    expect(seen(third.text)).toEqual({ userMessages: 3, first: 'My name is Lin.' });

    const chatCalls = h.emulator.requests().filter((r) => r.path === '/v1/chat/completions');
    const last = chatCalls.at(-1)!.body as { messages: { role: string; tool_calls?: unknown[] }[] };
    expect(last.messages.map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'user',
      'assistant',
      'tool',
      'assistant',
      'user',
    ]);
    expect(last.messages[4]!.tool_calls).toHaveLength(1);

    const items = await h.db.pool.query<{ type: string }>(
      'SELECT type FROM session_items WHERE session_id = $1 ORDER BY seq',
      [c.workflowId],
    );
    expect(items.rows.map((r) => r.type)).toEqual([
      'message',
      'message',
      'message',
      'function_call',
      'function_call_output',
      'message',
      'message',
      'message',
    ]);
    const calls = await h.db.pool.query<{
      response_id: string;
      strategy: string;
      fingerprint: string;
      cost_usd: string | null;
    }>(
      'SELECT response_id, strategy, fingerprint, cost_usd FROM model_calls WHERE conversation_id = $1 ORDER BY turn, step',
      [c.workflowId],
    );
    expect(calls.rows).toHaveLength(4);
    for (const row of calls.rows) {
      expect(row).toMatchObject({
        strategy: 'chat-completions/stateless',
        fingerprint: 'fp_threadline_emulator',
      });
      expect(row.response_id).toMatch(/^chatcmpl-/);
      expect(Number(row.cost_usd)).toBeGreaterThan(0);
    }
  });
});

describe('what the runtime sends', () => {
  it('every input item it sent in this file (all tests above) matches one of the spec input item schemas', () => {
    const sent = responseRequests(h.emulator).flatMap((r) => (Array.isArray(r.input) ? r.input : []));
    expect(sent.length).toBeGreaterThan(50);
    const invalid = sent.filter((item) => !['EasyInputMessage', 'Item'].some((b) => validatorFor(b)(item)));
    expect(invalid).toEqual([]);
  });
});
