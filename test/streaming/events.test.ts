import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { KEEP_TURNS } from '../../src/streaming/retention.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { request, startApiEnv, type ApiEnv } from '../support/api.js';
import { startTestWorker, uniqueTaskQueue, type RunningWorker } from '../support/env.js';
import { message, sendWithStart } from '../workflows/harness.js';
import { hasReply, readEvents, replyOf, streamedText, type Frame } from './sse.js';

/**
 * Streaming end to end: real Temporal, PostgreSQL, the emulator streaming with its faults, SSE
 * clients on one and two API instances.
 */
let emulator: Emulator;
let env: ApiEnv;
let base: string;
let key: string;
beforeAll(async () => {
  emulator = await startEmulator();
  env = await startApiEnv({ openaiBaseUrl: emulator.baseUrl });
  base = await env.start();
  key = await env.keyFor('acme');
});
afterAll(async () => {
  await env?.stop();
  await emulator?.close();
});
beforeEach(() => emulator.faults.clear());

const LONG = 'please tell me a rather long story about streams, rivers, and the sea, slowly';
const deltas = (frames: Frame[]) => frames.filter((f) => f.event === 'stream.delta');
const conversationUrl = () => `${base}/v1/conversations/web/${randomUUID()}`;

describe('GET .../events while the model streams', () => {
  it('sends deltas in order, before the reply, that add up to the reply', async () => {
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 20 });
    const conv = conversationUrl();
    await request('POST', `${conv}/messages`, key, { text: LONG });
    const frames = await readEvents(`${conv}/events`, key, hasReply);
    const reply = replyOf(frames)!;
    expect(reply).toContain(LONG);
    const ds = deltas(frames);
    expect(ds.length).toBeGreaterThan(3);
    expect(ds.map((d) => d.data.text).join('')).toBe(reply);
    // One attempt, one step, in order; every event has a distinct, increasing id.
    expect(new Set(ds.map((d) => `${d.data.turn}/${d.data.step}/${d.data.attempt}`))).toEqual(
      new Set(['1/1/1']),
    );
    const ids = frames.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    const names = frames.map((f) => f.event);
    expect(names.indexOf('stream.item.added')).toBeLessThan(names.indexOf('stream.delta'));
    expect(names.lastIndexOf('stream.delta')).toBeLessThan(names.indexOf('stream.item.done'));
    expect(names.indexOf('stream.item.done')).toBeLessThan(names.indexOf('reply'));
    expect(frames.find((f) => f.event === 'stream.item.added')!.data).toMatchObject({
      turn: 1,
      step: 1,
      attempt: 1,
      item: { type: 'message', role: 'assistant' },
    });
    // A client that connects after the answer gets the reply, not the preview again.
    const later = await readEvents(`${conv}/events`, key, (f) => f.some((x) => x.event === 'turn.completed'));
    expect(later.filter((f) => f.event.startsWith('stream.'))).toEqual([]);
    expect(replyOf(later)).toBe(reply);
  });

  it('a client that reconnects with Last-Event-ID mid-answer continues without gaps or repeats', async () => {
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 40 });
    const conv = conversationUrl();
    await request('POST', `${conv}/messages`, key, { text: LONG });
    // A client that stays connected throughout, to compare with.
    const uninterrupted = readEvents(`${conv}/events`, key, hasReply);
    const first = await readEvents(`${conv}/events`, key, (f) => deltas(f).length >= 3);
    expect(hasReply(first)).toBe(false);
    const lastId = first.at(-1)!.id!;
    expect(lastId).toMatch(/^\d+-\d+-1\.1\.1\.\d+$/);
    const rest = await readEvents(`${conv}/events`, key, hasReply, { lastEventId: lastId });
    expect(deltas(rest).length).toBeGreaterThan(0);
    const all = [...first, ...rest];
    expect(streamedText(all)).toBe(replyOf(rest));
    const ids = all.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Exactly what the uninterrupted client saw after that id.
    const whole = await uninterrupted;
    expect(rest).toEqual(whole.slice(whole.findIndex((f) => f.id === lastId) + 1));
  });

  it('a stream cut halfway: the retry marks the partial answer superseded, then streams the whole one', async () => {
    emulator.faults.add({ kind: 'cut_stream', afterEvents: 9 });
    const conv = conversationUrl();
    await request('POST', `${conv}/messages`, key, { text: LONG });
    const frames = await readEvents(`${conv}/events`, key, hasReply, { timeoutMs: 30_000 });
    const names = frames.map((f) => f.event);
    const marker = names.indexOf('stream.superseded');
    expect(marker).toBeGreaterThan(0);
    expect(frames[marker]!.data).toMatchObject({ turn: 1, step: 1, attempt: 2 });
    const before = frames.slice(0, marker);
    const after = frames.slice(marker + 1);
    expect(deltas(before).length).toBeGreaterThan(0);
    expect(deltas(before).every((d) => d.data.attempt === 1)).toBe(true);
    expect(deltas(after).every((d) => d.data.attempt === 2)).toBe(true);
    const reply = replyOf(frames)!;
    // The partial answer was a beginning, and what follows the marker is the whole answer alone.
    expect(
      reply.startsWith(
        deltas(before)
          .map((d) => d.data.text)
          .join(''),
      ),
    ).toBe(true);
    expect(
      deltas(after)
        .map((d) => d.data.text)
        .join(''),
    ).toBe(reply);
    expect(streamedText(frames)).toBe(reply);
  });

  it('a second API instance on the same database serves the same deltas', async () => {
    const second = await env.start();
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 20 });
    const id = randomUUID();
    await request('POST', `${base}/v1/conversations/web/${id}/messages`, key, { text: LONG });
    const [one, two] = await Promise.all([
      readEvents(`${base}/v1/conversations/web/${id}/events`, key, hasReply),
      readEvents(`${second}/v1/conversations/web/${id}/events`, key, hasReply),
    ]);
    expect(deltas(two).length).toBeGreaterThan(3);
    expect(two).toEqual(one);
  });

  it("a tenant's key sees only its own conversations' streams", async () => {
    emulator.faults.add({ kind: 'slow_stream', latencyMs: 20, times: 2 });
    const id = randomUUID();
    await request('POST', `${base}/v1/conversations/web/${id}/messages`, key, { text: 'acme secret plans' });
    const other = await env.keyFor('globex');
    const res = await request('GET', `${base}/v1/conversations/web/${id}/events`, other);
    expect(res.status).toBe(404);
    // Its own conversation of the same id streams its own answer only.
    await request('POST', `${base}/v1/conversations/web/${id}/messages`, other, { text: 'globex hello' });
    const frames = await readEvents(`${base}/v1/conversations/web/${id}/events`, other, hasReply);
    expect(streamedText(frames)).toContain('globex hello');
    expect(JSON.stringify(frames)).not.toContain('acme secret');
  });

  it('stream_events stays bounded: the current and previous turn per conversation, nothing past its age', async () => {
    const id = randomUUID();
    const conv = `${base}/v1/conversations/web/${id}`;
    const workflowId = conversationWorkflowId({ tenant: 'acme', channel: 'web', externalId: id });
    // A row from a conversation long gone, older than the retention age.
    await env.db.pool.query(
      `INSERT INTO stream_events (conversation_id, turn, step, attempt, seq, kind, data, created_at)
       VALUES ('conversation:gone', 1, 1, 1, 1, 'text', '{}', now() - interval '2 hours')`,
    );
    for (const text of ['one', 'two', 'three', 'four']) {
      const res = await request('POST', `${conv}/messages?wait=true`, key, { text });
      expect(res.status).toBe(200);
    }
    const { rows } = await env.db.pool.query<{ turn: number }>(
      'SELECT DISTINCT turn FROM stream_events WHERE conversation_id = $1 ORDER BY turn',
      [workflowId],
    );
    expect(rows.map((r) => r.turn)).toEqual(
      Array.from({ length: KEEP_TURNS }, (_, i) => 4 - KEEP_TURNS + 1 + i),
    );
    const gone = await env.db.pool.query(
      "SELECT 1 FROM stream_events WHERE conversation_id = 'conversation:gone'",
    );
    expect(gone.rowCount).toBe(0);
  });
});

describe('zero history cost', () => {
  let plain: RunningWorker;
  let plainQueue: string;
  beforeAll(async () => {
    plainQueue = uniqueTaskQueue('plain');
    plain = await startTestWorker({
      pool: env.db.pool,
      taskQueue: plainQueue,
      openaiBaseUrl: emulator.baseUrl,
      streamModel: false,
    });
  });
  afterAll(() => plain?.stop());

  it('a streamed turn has as many history events, of the same types, as a plain one', async () => {
    const historyOf = async (taskQueue: string, streamed: boolean) => {
      const input = { tenant: 'acme', channel: 'web', externalId: randomUUID(), agent: 'assistant' };
      const reply = await sendWithStart(env.client, taskQueue, input, message(LONG));
      const rows = await env.db.pool.query(
        'SELECT count(*)::int AS n FROM stream_events WHERE conversation_id = $1',
        [conversationWorkflowId(input)],
      );
      expect(rows.rows[0].n > 0).toBe(streamed);
      const history = await env.client.workflow.getHandle(conversationWorkflowId(input)).fetchHistory();
      return { reply, types: (history.events ?? []).map((e) => e.eventType) };
    };
    const streamed = await historyOf(env.taskQueue, true);
    const notStreamed = await historyOf(plainQueue, false);
    expect(streamed.reply.text).toBe(notStreamed.reply.text);
    expect(streamed.types.length).toBeGreaterThan(5);
    expect(streamed.types).toEqual(notStreamed.types);
  });
});
