import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';

let env: ApiEnv;
let base: string;
let key: string;
beforeAll(async () => {
  env = await startApiEnv();
  base = await env.start();
  key = await env.keyFor('acme');
});
afterAll(() => env?.stop());

interface Frame {
  id?: string;
  event?: string;
  data?: unknown;
}

/** Reads SSE frames until `until` says stop, then aborts the stream. */
async function readEvents(url: string, headers: Record<string, string>, until: (frames: Frame[]) => boolean) {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, ...headers },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const frames: Frame[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = res.body!.getReader();
  const deadline = setTimeout(() => abort.abort(), 15_000);
  try {
    while (!until(frames)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame: Frame = {};
        for (const line of raw.split('\n')) {
          const [field, ...rest] = line.split(': ');
          const value = rest.join(': ');
          if (field === 'id') frame.id = value;
          if (field === 'event') frame.event = value;
          if (field === 'data') frame.data = JSON.parse(value);
        }
        // The model's live stream has its own tests (test/streaming); these are about the transcript.
        if (frame.event && !frame.event.startsWith('stream.')) frames.push(frame);
      }
    }
  } finally {
    clearTimeout(deadline);
    abort.abort();
  }
  return frames;
}

describe('GET .../events', () => {
  it('streams turn status and replies live, and resumes after Last-Event-ID', async () => {
    const id = randomUUID();
    const conv = `${base}/v1/conversations/web/${id}`;
    await request('POST', `${conv}/messages?wait=true`, key, { text: 'one' });
    const firstTurn = readEvents(
      `${conv}/events`,
      {},
      (f) => f.filter((x) => x.event === 'turn.completed').length >= 2,
    );
    // The second turn happens while the stream is open.
    await new Promise((r) => setTimeout(r, 200));
    await request('POST', `${conv}/messages`, key, { text: 'two' });
    const frames = await firstTurn;
    // Per turn: the user's message, the model's reasoning item (as the live API returns it), the reply.
    expect(frames.map((f) => f.event)).toEqual([
      'turn.started',
      'item',
      'item',
      'reply',
      'turn.completed',
      'turn.started',
      'item',
      'item',
      'reply',
      'turn.completed',
    ]);
    expect(frames[2]!.data).toMatchObject({ turn: 1, id: '2', item: { type: 'reasoning' } });
    expect(frames[3]!.data).toMatchObject({ turn: 1, id: '3' });
    expect((frames[3]!.data as { text: string }).text).toContain('You said: "one"');
    expect(frames[4]!.data).toEqual({ turn: 1, status: 'answered' });

    // Resume after the first turn's completion: only the second turn comes again.
    const resumed = await readEvents(`${conv}/events`, { 'last-event-id': frames[4]!.id! }, (f) =>
      f.some((x) => x.event === 'turn.completed'),
    );
    expect(resumed.map((f) => f.event)).toEqual(['turn.started', 'item', 'item', 'reply', 'turn.completed']);
    expect(resumed[4]!.data).toEqual({ turn: 2, status: 'answered' });
    expect(resumed.map((f) => f.id)).toEqual(frames.slice(5).map((f) => f.id));
    // ?lastEventId= does the same for clients that cannot set headers.
    const viaQuery = await readEvents(`${conv}/events?lastEventId=${frames[7]!.id}`, {}, (f) =>
      f.some((x) => x.event === 'turn.completed'),
    );
    expect(viaQuery.map((f) => f.event)).toEqual(['reply', 'turn.completed']);
  });

  it('404 for an unknown conversation, 401 without a key', async () => {
    const res = await request('GET', `${base}/v1/conversations/web/${randomUUID()}/events`, key);
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe('conversation_not_found');
    expect((await request('GET', `${base}/v1/conversations/web/x/events`, null)).status).toBe(401);
  });
});
