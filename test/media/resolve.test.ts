import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { MediaFetchError, type MediaFetcher } from '../../src/media/graph.js';
import { checkMedia, DEFAULT_MEDIA_LIMITS } from '../../src/media/limits.js';
import { turnVerdict } from '../../src/media/parts.js';
import {
  ATTEMPT_RESERVE_MS,
  resolveAttachments,
  type MediaDeps,
  type ResolveContext,
} from '../../src/media/resolve.js';
import { MemoryMediaStore } from '../../src/media/store.js';
import type { Attachment, InboundMessage } from '../../src/workflows/messages.js';

const PNG = Buffer.from('89504e470d0a1a0a', 'hex');

function setup(fetch: MediaFetcher['fetch'], transcribe?: MediaDeps['transcribe']) {
  const calls: string[] = [];
  const problems: { type: string; mediaId: string }[] = [];
  const deps: MediaDeps = {
    store: new MemoryMediaStore(),
    fetchers: new Map([['k', { fetch: (id, kind, limits) => (calls.push(id), fetch(id, kind, limits)) }]]),
    limits: DEFAULT_MEDIA_LIMITS,
    ...(transcribe ? { transcribe } : {}),
  };
  const ctx = (attempt = 1): ResolveContext => ({
    tenant: 't',
    channel: 'whatsapp',
    conversationId: 'c',
    attempt,
    fetcherKey: 'k',
    recordProblem: async (p) => void problems.push({ type: p.type, mediaId: p.mediaId }),
  });
  return { deps, ctx, calls, problems };
}

const message = (...attachments: Attachment[]): InboundMessage => ({
  id: 'm1',
  text: '',
  receivedAt: '2026-01-01T00:00:00Z',
  attachments,
});

describe('resolveAttachments', () => {
  it('fetches once per media id and stores it; a retry reads the store', async () => {
    const { deps, ctx, calls } = setup(async () => ({ bytes: PNG, mimeType: 'image/png', sha256: 'h' }));
    const first = await resolveAttachments(deps, ctx(), [message({ kind: 'image', mediaId: 'a' })]);
    const again = await resolveAttachments(deps, ctx(2), [message({ kind: 'image', mediaId: 'a' })]);
    expect(first[0]!.attachments![0]!.resolved).toEqual({
      status: 'stored',
      mimeType: 'image/png',
      byteSize: PNG.length,
      transcript: null,
    });
    expect(again).toEqual(first);
    expect(calls).toEqual(['a']);
  });

  it('never fetches what the model cannot take (video, unsupported, animated stickers)', async () => {
    const { deps, ctx, calls } = setup(async () => {
      throw new Error('not called');
    });
    const [m] = await resolveAttachments(deps, ctx(), [
      message(
        { kind: 'video', mediaId: 'v' },
        { kind: 'unsupported', type: 'order' },
        { kind: 'sticker', mediaId: 's', animated: true },
      ),
    ]);
    expect(m!.attachments!.map((a) => a.resolved)).toEqual([
      { status: 'skipped' },
      { status: 'skipped' },
      { status: 'skipped' },
    ]);
    expect(calls).toEqual([]);
  });

  it('a failure retrying can help is retried until the attempts run out, then told to the customer', async () => {
    const down = () => {
      throw new MediaFetchError({ problem: 'unavailable', reason: 'down' }, true, 'HTTP 503');
    };
    const { deps, ctx, problems } = setup(async () => down());
    await expect(
      resolveAttachments(deps, ctx(1), [message({ kind: 'image', mediaId: 'a' })]),
    ).rejects.toThrow('down');
    const [m] = await resolveAttachments(deps, ctx(DEFAULT_MEDIA_LIMITS.maxAttempts), [
      message({ kind: 'image', mediaId: 'a' }),
    ]);
    expect(m!.attachments![0]!.resolved).toMatchObject({ status: 'problem', problem: 'unavailable' });
    expect(problems).toEqual([{ type: 'MediaUnavailable', mediaId: 'a' }]);
  });

  it('past the total time since the first attempt, a failure is final even with attempts left', async () => {
    const { deps, ctx, problems } = setup(async () => {
      throw new MediaFetchError({ problem: 'unavailable', reason: 'down' }, true, 'connection: timeout');
    });
    const at = (elapsed: number): ResolveContext => ({
      ...ctx(2),
      firstAttemptAt: 1_000_000,
      now: () => 1_000_000 + elapsed,
    });
    const msg = [message({ kind: 'image', mediaId: 'a' })];
    await expect(resolveAttachments(deps, at(DEFAULT_MEDIA_LIMITS.maxTotalMs - 1), msg)).rejects.toThrow(
      'down',
    );
    const [m] = await resolveAttachments(deps, at(DEFAULT_MEDIA_LIMITS.maxTotalMs), msg);
    expect(m!.attachments![0]!.resolved).toMatchObject({ status: 'problem', problem: 'unavailable' });
    expect(problems).toEqual([{ type: 'MediaUnavailable', mediaId: 'a' }]);
  });

  it("a download gets what is left of the attempt, never the activity's whole timeout", async () => {
    const timeouts: number[] = [];
    const { deps, ctx, problems } = setup(async (_id, _kind, limits) => {
      timeouts.push(limits.downloadTimeoutMs);
      return { bytes: PNG, mimeType: 'image/png', sha256: 'h' };
    });
    const ends = (left: number, attempt = 1): ResolveContext => ({
      ...ctx(attempt),
      attemptEndsAt: 50_000 + ATTEMPT_RESERVE_MS + left,
      now: () => 50_000,
    });
    await resolveAttachments(deps, ends(60_000), [message({ kind: 'image', mediaId: 'a' })]);
    await resolveAttachments(deps, ends(7_000), [message({ kind: 'image', mediaId: 'b' })]);
    expect(timeouts).toEqual([DEFAULT_MEDIA_LIMITS.downloadTimeoutMs, 7_000]);
    // No time left: not started; retried in a fresh attempt, or final on the last one.
    await expect(
      resolveAttachments(deps, ends(500), [message({ kind: 'image', mediaId: 'c' })]),
    ).rejects.toThrow(/in time/);
    const [m] = await resolveAttachments(deps, ends(500, DEFAULT_MEDIA_LIMITS.maxAttempts), [
      message({ kind: 'image', mediaId: 'c' }),
    ]);
    expect(m!.attachments![0]!.resolved).toMatchObject({ status: 'problem', problem: 'unavailable' });
    expect(timeouts).toHaveLength(2);
    expect(problems).toEqual([{ type: 'MediaUnavailable', mediaId: 'c' }]);
  });

  it('bytes that break the limits after download are refused (the type Meta declared may differ)', async () => {
    const { deps, ctx, problems } = setup(async () => ({ bytes: PNG, mimeType: 'image/tiff', sha256: 'h' }));
    const [m] = await resolveAttachments(deps, ctx(), [message({ kind: 'image', mediaId: 'a' })]);
    expect(m!.attachments![0]!.resolved).toMatchObject({ status: 'problem', problem: 'type_not_allowed' });
    expect(problems).toEqual([{ type: 'MediaTypeNotAllowed', mediaId: 'a' }]);
    expect(await deps.store.head({ tenant: 't', channel: 'whatsapp', mediaId: 'a' })).toBeNull();
  });

  it('audio is transcribed once; a transcription the API refuses becomes a problem, a 503 is retried', async () => {
    let transcriptions = 0;
    const ok = setup(
      async () => ({ bytes: Buffer.from('OggS'), mimeType: 'audio/ogg; codecs=opus', sha256: 'h' }),
      async () => (transcriptions++, ' hello there '),
    );
    for (const attempt of [1, 2]) {
      const [m] = await resolveAttachments(ok.deps, ok.ctx(attempt), [
        message({ kind: 'audio', mediaId: 'v', voice: true }),
      ]);
      expect(m!.attachments![0]!.resolved).toMatchObject({ status: 'stored', transcript: 'hello there' });
    }
    expect(transcriptions).toBe(1);

    const apiError = (status: number) =>
      OpenAI.APIError.generate(status, { error: { message: 'x' } }, 'x', new Headers());
    const flaky = setup(
      async () => ({ bytes: Buffer.from('OggS'), mimeType: 'audio/ogg', sha256: 'h' }),
      async () => {
        throw apiError(503);
      },
    );
    await expect(
      resolveAttachments(flaky.deps, flaky.ctx(1), [message({ kind: 'audio', mediaId: 'v' })]),
    ).rejects.toThrow(/transcription failed/);
    const refused = setup(
      async () => ({ bytes: Buffer.from('OggS'), mimeType: 'audio/ogg', sha256: 'h' }),
      async () => {
        throw apiError(400);
      },
    );
    const [m] = await resolveAttachments(refused.deps, refused.ctx(1), [
      message({ kind: 'audio', mediaId: 'v' }),
    ]);
    expect(m!.attachments![0]!.resolved).toMatchObject({ status: 'problem', problem: 'unavailable' });
  });

  it('without a fetcher for the channel, media is a problem the customer hears about', async () => {
    const [m] = await resolveAttachments(
      undefined,
      setup(async () => ({ bytes: PNG, mimeType: 'image/png', sha256: '' })).ctx(),
      [message({ kind: 'document', mediaId: 'd' })],
    );
    expect(m!.attachments![0]!.resolved).toMatchObject({ status: 'problem', problem: 'unavailable' });
  });
});

describe('checkMedia', () => {
  it.each([
    ['image', 'image/jpeg', 10, null],
    ['image', 'IMAGE/PNG', 10, null],
    ['image', 'image/heic', 10, 'type_not_allowed'],
    ['image', 'image/png', 5 * 1024 * 1024 + 1, 'too_large'],
    ['document', 'application/pdf', 32 * 1024 * 1024, null],
    ['document', 'application/zip', 10, 'type_not_allowed'],
    ['audio', 'audio/ogg; codecs=opus', 10, null],
    ['audio', 'audio/amr', 10, 'type_not_allowed'],
    ['audio', 'audio/mpeg', null, null],
  ] as const)('%s %s %s bytes -> %s', (kind, mime, size, expected) => {
    expect(checkMedia(DEFAULT_MEDIA_LIMITS, kind, mime, size)?.problem ?? null).toBe(expected);
  });
});

describe('turnVerdict', () => {
  const stored = { status: 'stored' as const, mimeType: 'image/png', byteSize: 1, transcript: null };
  const problem = { status: 'problem' as const, problem: 'too_large' as const, reason: 'big' };
  it.each([
    ['text', [{ ...message(), text: 'hi' }], 'usable'],
    ['a stored image', [message({ kind: 'image', mediaId: 'a', resolved: stored })], 'usable'],
    ['a video', [message({ kind: 'video', mediaId: 'v', resolved: { status: 'skipped' } })], 'unsupported'],
    ['failed media', [message({ kind: 'image', mediaId: 'a', resolved: problem })], 'media_problem'],
    [
      'an empty transcript',
      [message({ kind: 'audio', mediaId: 'a', resolved: { ...stored, transcript: ' ' } })],
      'unsupported',
    ],
    [
      'a video with a caption',
      [{ ...message({ kind: 'video', mediaId: 'v', resolved: { status: 'skipped' } }), text: 'look' }],
      'usable',
    ],
  ] as const)('%s -> %s', (_name, messages, expected) => {
    expect(turnVerdict(messages as unknown as InboundMessage[])).toBe(expected);
  });
});
