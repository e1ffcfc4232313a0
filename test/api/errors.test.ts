import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sanitizedReason } from '../../src/activities/errorRecords.js';
import { publicError } from '../../src/api/conversationStore.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { stateQuery } from '../../src/workflows/messages.js';
import { ADMIN_KEY, json, request, startApiEnv, type ApiEnv } from '../support/api.js';

// What a hostile upstream message can carry: an organization id and a fragment of the key.
const LEAK = 'sk-proj-LEAKED1234abcd';
const RAW = `Incorrect API key provided: ${LEAK}. Org org-secret-9 is over its quota of 1000 RPM.`;

let emulator: Emulator;
let env: ApiEnv;
let base: string;
let acme: string;
const logged: string[] = [];
beforeAll(async () => {
  // The worker runs in this process: whatever it logs goes through console (DefaultLogger) or stdout.
  for (const method of ['error', 'warn', 'info', 'log'] as const) {
    const original = console[method].bind(console);
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      original(...args);
    });
  }
  emulator = await startEmulator();
  env = await startApiEnv({ openaiBaseUrl: emulator.baseUrl });
  base = await env.start();
  acme = await env.keyFor('acme');
});
afterAll(async () => {
  await env?.stop();
  await emulator?.close();
  vi.restoreAllMocks();
});

const url = (id: string, rest = '') => `${base}/v1/conversations/web/${id}${rest}`;

describe('upstream error text stays with operators', () => {
  it('a failed turn shows the tenant a sanitized reason and an error id; the admin reads the raw text', async () => {
    const id = randomUUID();
    expect((await request('POST', url(id, '/messages?wait=true'), acme, { text: 'hello' })).status).toBe(200);
    emulator.faults.add({
      kind: 'error',
      errorStatus: 400,
      error: { message: RAW, type: 'invalid_request_error', code: 'invalid_api_key' },
      match: { path: '^/v1/responses$' },
    });
    const failed = await json(await request('POST', url(id, '/messages?wait=true'), acme, { text: 'boom' }));
    expect(failed.reply.status).toBe('failed');

    // The open run's state query, GET conversation, the listing, items and events.
    const workflowId = conversationWorkflowId({ tenant: 'acme', channel: 'web', externalId: id });
    const state = await env.client.workflow.getHandle(workflowId).query(stateQuery);
    const conversation = await json(await request('GET', url(id), acme));
    expect(conversation.lastError).toBe(state.lastError);
    expect(conversation.lastError).toMatch(
      /^OpenAI 400 invalid_api_key: OpenAI rejected the request \(error err_[0-9a-f]{24}\)$/,
    );
    const listing = await (await request('GET', `${base}/v1/conversations`, acme)).text();
    const items = await (await request('GET', url(id, '/items?limit=100'), acme)).text();
    const controller = new AbortController();
    const events = await fetch(url(id, '/events'), {
      headers: { authorization: `Bearer ${acme}` },
      signal: controller.signal,
    });
    const reader = events.body!.getReader();
    let stream = '';
    while (!stream.includes('turn.completed') || (stream.match(/turn\.completed/g) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      stream += new TextDecoder().decode(value);
    }
    controller.abort();
    for (const [where, text] of Object.entries({
      state: JSON.stringify(state),
      conversation: JSON.stringify(conversation),
      listing,
      items,
      events: stream,
    })) {
      expect(text, where).not.toContain(LEAK);
      expect(text, where).not.toContain('org-secret-9');
    }
    // After the run ends, the Postgres record says the same.
    const { rows } = await env.db.pool.query<{ last_error: string }>(
      'SELECT last_error FROM conversations WHERE id = $1',
      [workflowId],
    );
    expect(rows[0]!.last_error).toBe(conversation.lastError);

    const errorId = /err_[0-9a-f]{24}/.exec(conversation.lastError)![0];
    const record = await json(await request('GET', `${base}/v1/admin/errors/${errorId}`, ADMIN_KEY));
    expect(record).toMatchObject({
      id: errorId,
      tenant: 'acme',
      conversationId: workflowId,
      activity: 'callModel',
      type: 'OpenAI400',
    });
    expect(record.message).toContain(LEAK);
    // Only the admin key reads it.
    expect((await request('GET', `${base}/v1/admin/errors/${errorId}`, acme)).status).toBe(403);
    // Temporal history holds the sanitized failure only.
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    expect(JSON.stringify(history)).not.toContain(LEAK);
    expect(logged.join('\n')).not.toContain(LEAK);
  });
});

describe('sanitizedReason', () => {
  it.each([
    [
      'OpenAIRateLimited',
      { status: 429, code: 'rate_limit_exceeded' },
      'OpenAI 429 rate_limit_exceeded: OpenAI rate limit',
    ],
    [
      'OpenAIQuotaExceeded',
      { status: 429, code: 'insufficient_quota' },
      'OpenAI 429 insufficient_quota: OpenAI quota exceeded',
    ],
    ['OpenAI503', { status: 503, code: null }, 'OpenAI 503: OpenAI server error'],
    [
      'OpenAI400',
      { status: 400, code: 'invalid_value' },
      'OpenAI 400 invalid_value: OpenAI rejected the request',
    ],
    ['OpenAI400', { status: 400, code: 'sk-not a code!' }, 'OpenAI 400: OpenAI rejected the request'],
    ['OpenAIConnectionError', { status: null, code: null }, 'OpenAI connection error: OpenAI unreachable'],
    ['UnexpectedError', {}, 'The model step failed (UnexpectedError)'],
  ])('%s %j -> %s', (type, facts, expected) => {
    expect(sanitizedReason('callModel', { type, details: [facts] })).toBe(expected);
  });
});

describe('publicError (rows and runs from before error records)', () => {
  it.each([
    [null, null],
    [
      'OpenAI 429: OpenAI rate limit (error err_0123456789abcdef01234567)',
      'OpenAI 429: OpenAI rate limit (error err_0123456789abcdef01234567)',
    ],
    [`OpenAI 400 invalid_api_key: ${RAW}`, 'OpenAI 400 invalid_api_key: details withheld (ask an operator)'],
    [
      'OpenAI connection error: Connection error.',
      'OpenAI connection error: details withheld (ask an operator)',
    ],
    [`something else ${LEAK}`, 'The turn failed: details withheld (ask an operator)'],
  ])('%s -> %s', (stored, shown) => {
    expect(publicError(stored)).toBe(shown);
  });
});
