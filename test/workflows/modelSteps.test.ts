import { MockActivityEnvironment } from '@temporalio/testing';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callModel, type CallModelInput, type CallModelResult } from '../../src/activities/model.js';
import { recordTurnInput } from '../../src/activities/transcript.js';
import { createRegistry } from '../../src/agents/registry.js';
import type { AgentDefinition } from '../../src/agents/types.js';
import { formatSse, responseEvents } from '../../src/emulator/streaming.js';
import {
  message,
  responseRequests,
  seen,
  startHarness,
  testAgent,
  testTools,
  type Harness,
} from './harness.js';

/**
 * One model step, whatever happens to its attempts: two live attempts, a lost answer, a worker that
 * shuts down mid-call. The activity runs against the real PostgreSQL and the emulator.
 */
let h: Harness;

/**
 * What a reasoning model does with a small `max_output_tokens` (or a content filter): the emulator
 * answers, and this client's fetch turns the answer into the live API's incomplete response, a lone
 * reasoning item and no message (see the API notes). The emulator itself has no such mode.
 */
type Stop = { reason: 'max_output_tokens'; below: number } | { reason: 'content_filter' };
function incompleteClient(stop: Stop): OpenAI {
  return new OpenAI({
    apiKey: 'test',
    baseURL: 'http://emulator.invalid/v1',
    maxRetries: 0,
    fetch: async (url, init) => {
      const real = String(url).replace('http://emulator.invalid/v1', h.emulator.baseUrl);
      if (!real.endsWith('/v1/responses') || init?.method !== 'POST') return fetch(real, init);
      // A streamed call is answered as a stream of the rewritten response (the model step streams).
      const { stream, ...request } = JSON.parse(String(init.body)) as {
        max_output_tokens?: number;
        stream?: boolean;
      };
      const response = await fetch(real, { ...init, body: JSON.stringify(request) });
      const answer = (body: Record<string, unknown>) =>
        stream
          ? new Response(responseEvents(body).map(formatSse).join(''), {
              status: 200,
              headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_stub' },
            })
          : new Response(JSON.stringify(body), { status: 200, headers: response.headers });
      if (!response.ok) return response;
      const body = (await response.json()) as Record<string, unknown>;
      if (stop.reason === 'max_output_tokens' && (request.max_output_tokens ?? Infinity) >= stop.below)
        return answer(body);
      return answer({
        ...body,
        status: 'incomplete',
        incomplete_details: { reason: stop.reason },
        output: [{ type: 'reasoning', id: `rs_${String(body.id)}`, summary: [] }],
      });
    },
  });
}

const agents: AgentDefinition[] = [
  testAgent('chain'),
  testAgent('conv', { strategy: 'conversation' }),
  testAgent('stateless', { strategy: 'stateless' }),
  testAgent('tools', { tools: testTools([], 5) }),
  testAgent('conv-tools', { strategy: 'conversation', tools: testTools([], 5) }),
  testAgent('stateless-tools', { strategy: 'stateless', tools: testTools([], 5) }),
  // The concierge's settings: 800 output tokens on gpt-5-mini.
  testAgent('thinker', {
    modelSettings: { maxOutputTokens: 800 },
    client: incompleteClient({ reason: 'max_output_tokens', below: 801 }),
  }),
  testAgent('stubborn', {
    modelSettings: { maxOutputTokens: 800 },
    client: incompleteClient({ reason: 'max_output_tokens', below: Infinity }),
  }),
  testAgent('filtered', { client: incompleteClient({ reason: 'content_filter' }) }),
];
const registry = createRegistry(agents);
beforeAll(async () => {
  h = await startHarness({ agents });
});
afterAll(async () => h?.close());
afterEach(() => h.emulator.faults.clear());

const openai = () => new OpenAI({ baseURL: h.emulator.baseUrl, apiKey: 'test', maxRetries: 0 });

/** A conversation with turn 1's user message recorded, ready for its first model step. */
async function stepOne(agent: string, text: string): Promise<CallModelInput> {
  const c = h.conversation(agent);
  const common = { conversationId: c.workflowId, key: c.input, agent, turn: 1, segment: 0 };
  await recordTurnInput(
    { pool: h.db.pool, agents: registry },
    { ...common, now: new Date().toISOString(), messages: [message(text)] },
  );
  return { ...common, step: 1, previousResponseId: null, mode: 'normal' };
}

/** One attempt of the activity, with its own activity context (as a worker gives each attempt). */
function attempt(input: CallModelInput, attemptNumber: number): Promise<CallModelResult> {
  const env = new MockActivityEnvironment({ attempt: attemptNumber });
  return env.run(callModel, { pool: h.db.pool, openai: openai(), agents: registry }, input);
}

async function outputItems(conversationId: string) {
  const { rows } = await h.db.pool.query<{ item_key: string; item: Record<string, unknown> }>(
    `SELECT item_key, item FROM session_items WHERE session_id = $1 AND item_key LIKE 't1/s1/o%' ORDER BY seq`,
    [conversationId],
  );
  return rows;
}

describe('two live attempts of one step', () => {
  it('the later attempt adopts what the first recorded: one response, one set of output items', async () => {
    const input = await stepOne('tools', 'call get_weather {"city":"Oslo"}');
    // Attempt 1 is slow (its heartbeat timed out, say); attempt 2 starts, answers and commits
    // first; then attempt 1's call comes back and it tries to commit too.
    const slow = h.emulator.faults.add({
      kind: 'latency',
      latencyMs: 1500,
      match: { path: '^/v1/responses$' },
    });
    const first = attempt(input, 1);
    // The emulator holds attempt 1's request (the fault is spent on arrival).
    await waitFor(() => !h.emulator.faults.list().some((f) => f.id === slow.id && f.hits === 0));
    const second = await attempt(input, 2);
    const late = await first;

    const { rows } = await h.db.pool.query<{ response_id: string }>(
      'SELECT response_id FROM model_calls WHERE conversation_id = $1',
      [input.conversationId],
    );
    expect(rows).toHaveLength(1);
    expect(second.responseId).toBe(rows[0]!.response_id);
    // The workflow chains on whatever the late attempt returns: it must be the recorded response.
    expect(late.responseId).toBe(rows[0]!.response_id);
    expect(late.functionCalls).toEqual(second.functionCalls);
    // Every output item in the transcript is the recorded response's.
    const recorded = (await openai().responses.retrieve(rows[0]!.response_id)).output.map((o) => o.id);
    expect((await outputItems(input.conversationId)).map((r) => r.item.id)).toEqual(recorded);
  });
});

describe('incomplete answers (status: incomplete)', () => {
  async function calls(conversationId: string) {
    const { rows } = await h.db.pool.query<{
      status: string;
      raw: Record<string, unknown>;
      error: Record<string, unknown> | null;
    }>('SELECT status, raw, error FROM model_calls WHERE conversation_id = $1 ORDER BY turn, step', [
      conversationId,
    ]);
    return rows;
  }
  const budgets = (from: number) =>
    responseRequests(h.emulator)
      .slice(from)
      .map((r) => r.max_output_tokens);

  it('a reasoning model that spent max_output_tokens thinking gets one more try with room, and answers', async () => {
    const c = h.conversation('thinker');
    const before = responseRequests(h.emulator).length;
    const reply = await c.send('Plan my week.');
    expect(reply.status).toBe('answered');
    expect(reply.text).toMatch(/^You said: "Plan my week\."/);
    expect(budgets(before)).toEqual([800, 4096]);
    expect(await calls(c.workflowId)).toEqual([
      expect.objectContaining({
        status: 'completed',
        raw: expect.objectContaining({ retried_for: 'max_output_tokens' }),
      }),
    ]);
  });

  it('still nothing with the larger budget: the user gets the apology, not silence, and the call is recorded', async () => {
    const c = h.conversation('stubborn');
    const before = responseRequests(h.emulator).length;
    const reply = await c.send('Plan my year.');
    expect(reply.status).toBe('failed');
    expect(reply.text).toBe(agents.find((a) => a.name === 'stubborn')!.apologyText);
    expect(budgets(before)).toEqual([800, 4096]);
    expect(await calls(c.workflowId)).toEqual([
      expect.objectContaining({
        status: 'incomplete',
        error: { incomplete: 'max_output_tokens', answered: false },
      }),
    ]);
    // The next message is answered normally once the model has something to say.
    expect((await c.state()).lastError).toMatch(/no answer/);
  });

  it('content_filter: the apology, recorded, and no second try', async () => {
    const c = h.conversation('filtered');
    const before = responseRequests(h.emulator).length;
    const reply = await c.send('Something the filter stops.');
    expect(reply.status).toBe('failed');
    expect(reply.text).toBe(agents.find((a) => a.name === 'filtered')!.apologyText);
    expect(responseRequests(h.emulator).length - before).toBe(1);
    expect(await calls(c.workflowId)).toEqual([
      expect.objectContaining({
        status: 'incomplete',
        error: { incomplete: 'content_filter', answered: false },
      }),
    ]);
  });
});

describe('a lost answer (the server applied the call, the answer never arrived)', () => {
  const onModelCall = (bodyIncludes?: string) => ({
    path: '^/v1/responses$',
    ...(bodyIncludes ? { bodyIncludes } : {}),
  });
  async function transcriptTypes(conversationId: string) {
    const { rows } = await h.db.pool.query<{ type: string; role: string | null }>(
      'SELECT type, role FROM session_items WHERE session_id = $1 ORDER BY seq',
      [conversationId],
    );
    return rows.map((r) => (r.role ? `${r.type}:${r.role}` : r.type));
  }
  const loss = [
    ['dropped connection', undefined],
    ['proxy 502', 502],
    ['proxy 504', 504],
  ] as const;

  describe.each([
    ['previous_response_id', 'chain', 'tools'],
    ['conversation', 'conv', 'conv-tools'],
    ['stateless', 'stateless', 'stateless-tools'],
  ])('%s', (_strategy, plain, withTools) => {
    it.each(loss)('%s: the turn answers once and the model sees each message once', async (_name, status) => {
      const c = h.conversation(plain);
      await c.send('I am Grace.');
      h.emulator.faults.add({ kind: 'lose_answer', match: onModelCall(), ...(status ? { status } : {}) });
      const second = await c.send('I like compilers.');
      expect(second.status).toBe('answered');
      expect(seen(second.text)).toEqual({ userMessages: 2, first: 'I am Grace.' });
      const third = await c.send('Who am I?');
      expect(seen(third.text)).toEqual({ userMessages: 3, first: 'I am Grace.' });
      // One reasoning item and one answer per turn: the lost attempt left nothing behind.
      expect(await transcriptTypes(c.workflowId)).toEqual([
        'message:user',
        'reasoning',
        'message:assistant',
        'message:user',
        'reasoning',
        'message:assistant',
        'message:user',
        'reasoning',
        'message:assistant',
      ]);
    });

    it('in a tool round: a lost function call and a lost answer to tool outputs leave every call paired', async () => {
      const c = h.conversation(withTools);
      await c.send('I am Grace.');
      // The step that asks for the tool, then the step that hands its output back, each lost once.
      h.emulator.faults.add({ kind: 'lose_answer', match: onModelCall('call get_weather') });
      h.emulator.faults.add({
        kind: 'lose_answer',
        status: 502,
        match: onModelCall('"function_call_output"'),
      });
      const reply = await c.send('call get_weather {"city":"Lima"}');
      expect(reply.status).toBe('answered');
      expect(reply.text).toMatch(/^Tool results: get_weather -> .*Lima/);
      const next = await c.send('Who am I?');
      expect(next.status).toBe('answered');
      expect(seen(next.text)).toEqual({ userMessages: 3, first: 'I am Grace.' });
    });
  });
});

describe('a broken OpenAI conversation (a function call without its output)', () => {
  it('the 400 is repaired from the transcript, recorded, and later turns answer', async () => {
    const c = h.conversation('conv');
    await c.send('I am Grace.');
    const { rows } = await h.db.pool.query<{ openai_conversation_id: string }>(
      'SELECT openai_conversation_id FROM conversations WHERE id = $1',
      [c.workflowId],
    );
    // What a lost answer did before lost answers converged, or an outside writer: an unanswered call.
    await openai().conversations.items.create(rows[0]!.openai_conversation_id, {
      items: [{ type: 'function_call', call_id: 'call_orphan', name: 'get_weather', arguments: '{}' }],
    });
    const reply = await c.send('Still there?');
    expect(reply.status).toBe('answered');
    expect(seen(reply.text)).toEqual({ userMessages: 2, first: 'I am Grace.' });
    const { rows: calls } = await h.db.pool.query<{ recovery: string | null }>(
      'SELECT recovery FROM model_calls WHERE conversation_id = $1 ORDER BY turn, step',
      [c.workflowId],
    );
    expect(calls.map((r) => r.recovery)).toEqual([null, 'conversation_repaired']);
    const metadata = await c.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/recovered \(conversation_repaired\)/);
    expect(seen((await c.send('And now?')).text).userMessages).toBe(3);
  });
});

describe('worker shutdown during a model call', () => {
  it('aborts the HTTP request at once, and the next worker answers the step', async () => {
    const c = h.conversation('chain');
    await c.send('I am Grace.');
    // A model that takes a minute: the deploy must not wait for it.
    const slow = h.emulator.faults.add({
      kind: 'latency',
      latencyMs: 60_000,
      match: { path: '^/v1/responses$' },
    });
    const reply = c.send('Think hard.');
    await waitFor(() => !h.emulator.faults.list().some((f) => f.id === slow.id && f.hits === 0), 15_000);
    const stopping = Date.now();
    await h.restartWorker();
    expect(Date.now() - stopping).toBeLessThan(10_000);
    // The journal records the abandoned request as closed without an answer.
    await waitFor(() => h.emulator.requests().some((r) => r.path === '/v1/responses' && r.status === 0));
    const answered = await reply;
    expect(answered.status).toBe('answered');
    expect(seen(answered.text)).toEqual({ userMessages: 2, first: 'I am Grace.' });
    const { rows } = await h.db.pool.query(
      'SELECT 1 FROM model_calls WHERE conversation_id = $1 AND turn = 2',
      [c.workflowId],
    );
    expect(rows).toHaveLength(1);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
