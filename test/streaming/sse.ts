/** A small SSE client for tests: frames with their ids, read until a condition holds, then closed. */
export interface Frame {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

export async function readEvents(
  url: string,
  key: string,
  until: (frames: Frame[]) => boolean,
  options: { lastEventId?: string; timeoutMs?: number } = {},
): Promise<Frame[]> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: {
      authorization: `Bearer ${key}`,
      ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
    },
    signal: abort.signal,
  });
  if (res.status !== 200) throw new Error(`events: HTTP ${res.status}: ${await res.text()}`);
  const frames: Frame[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = res.body!.getReader();
  const deadline = setTimeout(() => abort.abort(), options.timeoutMs ?? 20_000);
  try {
    while (!until(frames)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0 && !until(frames)) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame: Partial<Frame> = {};
        for (const line of raw.split('\n')) {
          const at = line.indexOf(': ');
          if (at < 0) continue;
          const field = line.slice(0, at);
          const value = line.slice(at + 2);
          if (field === 'id') frame.id = value;
          if (field === 'event') frame.event = value;
          if (field === 'data') frame.data = JSON.parse(value) as Record<string, unknown>;
        }
        if (frame.event) frames.push(frame as Frame);
      }
    }
  } catch (e) {
    if (!abort.signal.aborted) throw e;
  } finally {
    clearTimeout(deadline);
    abort.abort();
  }
  return frames;
}

/** What a client shows for a turn: streamed text, dropped at a superseded marker. */
export function streamedText(frames: Frame[]): string {
  let text = '';
  for (const f of frames) {
    if (f.event === 'stream.superseded') text = '';
    if (f.event === 'stream.delta') text += String(f.data.text);
  }
  return text;
}

export const replyOf = (frames: Frame[]): string | undefined =>
  frames.find((f) => f.event === 'reply')?.data.text as string | undefined;

export const hasReply = (frames: Frame[]) => frames.some((f) => f.event === 'reply');
