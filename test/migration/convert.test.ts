import { describe, expect, it } from 'vitest';
import { generateAssistantsFixture, loadDefaultAssistantsFixture } from '../../src/emulator/server.js';
import {
  convertChain,
  convertTableRows,
  convertThread,
  type AssistantsMessage,
  type AssistantsRunStep,
} from '../../src/migration/convert.js';
import { parseExportLine, parseMapping } from '../../src/migration/mapping.js';
import { MigrationState } from '../../src/workflows/migrationState.js';

const fixture = loadDefaultAssistantsFixture();
const threadOf = (id: string) => ({
  messages: fixture.messages.filter((m) => m.thread_id === id) as unknown as AssistantsMessage[],
  steps: fixture.steps.filter((s) => s.thread_id === id) as unknown as AssistantsRunStep[],
});

describe('Assistants thread to wire items', () => {
  it('orders a run’s tool call and output before its message, and maps text to input/output_text', () => {
    const { messages, steps } = threadOf('thread_fixture_travel');
    const { items, notes } = convertThread([...messages].reverse(), steps);
    expect(items.map((i) => [i.item.type, i.item.role ?? null])).toEqual([
      ['message', 'user'],
      ['function_call', null],
      ['function_call_output', null],
      ['message', 'assistant'],
      ['message', 'user'],
      ['message', 'assistant'],
    ]);
    expect(items[0]!.item).toEqual({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: "What's the weather in Lisbon?" }],
    });
    expect(items[1]!.item).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'completed' });
    expect(items[2]!.item.call_id).toBe(items[1]!.item.call_id);
    expect(items[3]!.item).toMatchObject({
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'It is 21°C and clear in Lisbon.', annotations: [] }],
    });
    expect(notes).toEqual([]);
  });

  it('keeps annotations and source ids as metadata, with keys from source ids only', () => {
    const { messages, steps } = threadOf('thread_fixture_travel');
    const { items } = convertThread(messages, steps);
    const cited = items.at(-1)!;
    expect(cited.itemKey).toBe('mig/asst/msg_travel_4');
    expect(cited.metadata).toMatchObject({
      threadId: 'thread_fixture_travel',
      messageId: 'msg_travel_4',
      runId: 'run_travel_2',
    });
    expect((cited.metadata.annotations as { type: string }[])[0]!.type).toBe('file_citation');
    // Same source, same keys: what makes a rerun add nothing.
    expect(convertThread(messages, steps).items.map((i) => i.itemKey)).toEqual(items.map((i) => i.itemKey));
  });

  it('leaves out what the transcript cannot hold, and says so', () => {
    const message = {
      ...(threadOf('thread_fixture_plain').messages[1] as AssistantsMessage),
      content: [{ type: 'image_file', image_file: { file_id: 'file-1' } }],
    };
    const step: AssistantsRunStep = {
      id: 'step_x',
      run_id: message.run_id!,
      created_at: 0,
      type: 'tool_calls',
      step_details: { type: 'tool_calls', tool_calls: [{ id: 'call_ci', type: 'code_interpreter' }] },
    };
    const { items, notes } = convertThread([message], [step]);
    expect(items).toEqual([]);
    expect(notes).toHaveLength(2);
  });

  it('converts a generated export at scale deterministically', () => {
    const generated = generateAssistantsFixture({ threads: 20, messagesPerThread: 4, seed: 3 });
    const count = (id: string) =>
      convertThread(
        generated.messages.filter((m) => m.thread_id === id) as unknown as AssistantsMessage[],
        generated.steps.filter((s) => s.thread_id === id) as unknown as AssistantsRunStep[],
      ).items.length;
    const counts = generated.threads.map((t) => count(t.id));
    expect(counts.every((c) => c === 4 || c === 6 || c === 8)).toBe(true);
  });
});

describe('response chains and legacy tables', () => {
  it('puts a chain walked newest-first back in chronological order, without server item ids', () => {
    const link = (n: number) => ({
      responseId: `resp_${n}`,
      createdAt: n,
      input: [
        { id: `msg_in${n}`, type: 'message', role: 'user', content: [{ type: 'input_text', text: `q${n}` }] },
      ],
      output: [
        {
          id: `msg_out${n}`,
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: `a${n}` }],
        },
      ],
    });
    const items = convertChain([link(3), link(2), link(1)]);
    expect(items.map((i) => i.itemKey)).toEqual([
      'mig/resp/resp_1/in/0',
      'mig/resp/resp_1/out/0',
      'mig/resp/resp_2/in/0',
      'mig/resp/resp_2/out/0',
      'mig/resp/resp_3/in/0',
      'mig/resp/resp_3/out/0',
    ]);
    expect(items[0]!.item).not.toHaveProperty('id');
    expect(items[0]!.metadata).toMatchObject({ responseId: 'resp_1', itemId: 'msg_in1' });
  });

  it('maps table rows by role and leaves out unknown roles', () => {
    const { items, notes } = convertTableRows('legacy', [
      { id: '1', role: 'user', content: 'hi', createdAt: null },
      { id: '2', role: 'Assistant', content: 'hello', createdAt: null },
      { id: '3', role: 'bot-internal', content: 'x', createdAt: null },
    ]);
    expect(items.map((i) => i.item.role)).toEqual(['user', 'assistant']);
    expect(notes).toEqual(["rows with role 'bot-internal' were left out"]);
  });
});

describe('mapping files and export lines', () => {
  it('reads CSV with quotes and reports bad lines by number', () => {
    const parsed = parseMapping('user_id,thread_id\n"alice, the first",thread_a\nbob,\n\ncarol,thread_c\n');
    expect(parsed.entries).toEqual([
      { user: 'alice, the first', ref: 'thread_a' },
      { user: 'carol', ref: 'thread_c' },
    ]);
    expect(parsed.issues).toEqual([{ line: 3, reason: 'missing user or id' }]);
  });

  it('reads JSON objects and arrays with any column casing', () => {
    expect(parseMapping('{"alice":"thread_a"}').entries).toEqual([{ user: 'alice', ref: 'thread_a' }]);
    expect(parseMapping('[{"userId":"bob","threadId":"thread_b"},{"responseId":"x"}]')).toEqual({
      entries: [{ user: 'bob', ref: 'thread_b' }],
      issues: [{ line: 2, reason: 'entry 2 has no user and thread/response id' }],
    });
  });

  it('names the fix when the CSV header is wrong', () => {
    expect(() => parseMapping('a,b\n1,2', 'users.csv')).toThrow(
      /users.csv: the CSV header must name a user column/,
    );
  });

  it('classifies export lines', () => {
    expect(parseExportLine('')).toBeNull();
    expect(parseExportLine('{oops')).toMatchObject({ reason: expect.stringMatching(/^not JSON/) });
    expect(parseExportLine('{"object":"assistant","id":"a"}')).toEqual({
      reason: 'unknown object type "assistant"',
    });
    expect(parseExportLine('{"object":"thread.message","id":"m","content":[]}')).toEqual({
      reason: 'thread.message m without a thread_id',
    });
    expect(parseExportLine('{"object":"thread","id":"t"}')).toMatchObject({
      object: { type: 'thread', threadId: 't' },
    });
  });
});

describe('MigrationState', () => {
  it('counts, computes rate and ETA, and carries everything across continue-as-new', () => {
    const state = new MigrationState(undefined, 0);
    state.total = 10;
    state.takePage(
      [1, 2, 3, 4].map((n) => ({ id: `t${n}`, externalId: `u${n}` })),
      't4',
    );
    expect(state.canStart(2)).toBe(true);
    state.start();
    state.start();
    expect(state.canStart(2)).toBe(false);
    state.record({ unitId: 't1', status: 'done', items: 4, conversationId: 'c', reason: null });
    state.record({ unitId: 't2', status: 'failed', items: 0, conversationId: null, reason: 'OpenAI 404' });
    const p = state.progress('migration:x', 'running', false, 4_000);
    expect(p).toMatchObject({
      done: 1,
      failed: 1,
      items: 4,
      inFlight: 0,
      rate: 0.5,
      etaSeconds: 16,
      total: 10,
    });
    expect(p.recentFailures).toEqual([{ unitId: 't2', reason: 'OpenAI 404' }]);
    const next = new MigrationState(state.carry(), 9_999);
    expect(next.progress('migration:x', 'running', false, 4_000)).toEqual(p);
    expect(next.buffer.map((u) => u.id)).toEqual(['t3', 't4']);
    state.paused = true;
    expect(state.canStart(2)).toBe(false);
  });
});

describe('a batch in MigrationState', () => {
  it('counts reports once, shows them before the batch ends, and queues unstarted units first', () => {
    const state = new MigrationState(undefined, 0);
    const units = ['a', 'b', 'c', 'd'].map((id) => ({ id, externalId: id }));
    state.takePage([...units, { id: 'e', externalId: 'e' }], null);
    const batch = state.startBatch(4);
    expect(batch.map((u) => u.id)).toEqual(['a', 'b', 'c', 'd']);
    const counts = {
      done: 1,
      failed: 1,
      skipped: 0,
      items: 3,
      failures: [{ unitId: 'b', reason: 'OpenAI 404' }],
    };
    state.reportBatch('m/batch/a', counts);
    expect(state.progress('m', 'running', false, 1000)).toMatchObject({ done: 1, failed: 1, inFlight: 2 });
    state.recordBatch(batch, { ...counts, failed: 0, failures: [], unstarted: batch.slice(3) }, 'm/batch/a');
    expect(state.progress('m', 'paused', false, 1000)).toMatchObject({
      done: 2,
      failed: 1,
      items: 6,
      inFlight: 0,
      recentFailures: [{ unitId: 'b', reason: 'OpenAI 404' }],
    });
    expect(state.buffer.map((u) => u.id)).toEqual(['d', 'e']);
  });
});
