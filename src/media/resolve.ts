import { ApplicationFailure } from '@temporalio/activity';
import type { Attachment, AttachmentResolution, InboundMessage } from '../workflows/messages.js';
import { MediaFetchError, type MediaFetcher } from './graph.js';
import { checkMedia, mediaKindOf, type MediaLimits, type ProblemVerdict } from './limits.js';
import type { MediaKey, MediaStore } from './store.js';
import { transcriptionRetryable, type Transcriber } from './transcribe.js';

export interface MediaDeps {
  store: MediaStore;
  /** Media downloaders by `senderKey(tenant, channel)`: a tenant's token fetches only its media. */
  fetchers: ReadonlyMap<string, MediaFetcher>;
  limits: MediaLimits;
  transcribe?: Transcriber;
}

export interface ResolveContext {
  tenant: string;
  channel: string;
  conversationId: string;
  /** The activity attempt: a retryable failure stops being retried after `limits.maxAttempts`. */
  attempt: number;
  /** Epoch ms of the first attempt: a failure after `limits.maxTotalMs` from it is final. */
  firstAttemptAt?: number;
  /** Epoch ms by which this attempt must return: downloads are cut to fit before it. */
  attemptEndsAt?: number;
  /** The clock (tests); Date.now by default. */
  now?: () => number;
  fetcherKey: string;
  /** Records a final problem for operators (error_records), with its upstream detail. */
  recordProblem(problem: {
    messageId: string;
    mediaId: string;
    type: string;
    reason: string;
    detail: string;
  }): Promise<void>;
}

export const PROBLEM_TYPES: Record<ProblemVerdict['problem'], string> = {
  too_large: 'MediaTooLarge',
  type_not_allowed: 'MediaTypeNotAllowed',
  unavailable: 'MediaUnavailable',
};

/**
 * Fetches and stores each message's media (idempotent by media id: a retry or a redelivery reads
 * the store), transcribes audio, and returns the messages with each attachment's resolution for
 * the contextualize hook. A failure retrying can help is thrown (the activity retries it) until the
 * attempts run out; then, like any other failure, it becomes a problem the customer is told about.
 */
export async function resolveAttachments(
  deps: MediaDeps | undefined,
  ctx: ResolveContext,
  messages: InboundMessage[],
): Promise<InboundMessage[]> {
  const out: InboundMessage[] = [];
  for (const m of messages) {
    if (!m.attachments?.length) {
      out.push(m);
      continue;
    }
    const attachments: Attachment[] = [];
    for (const a of m.attachments) attachments.push({ ...a, resolved: await resolveOne(deps, ctx, m.id, a) });
    out.push({ ...m, attachments });
  }
  return out;
}

async function resolveOne(
  deps: MediaDeps | undefined,
  ctx: ResolveContext,
  messageId: string,
  a: Attachment,
): Promise<AttachmentResolution> {
  const kind = mediaKindOf(a.kind);
  if (!kind || !a.mediaId || a.animated) return { status: 'skipped' };
  const key: MediaKey = { tenant: ctx.tenant, channel: ctx.channel, mediaId: a.mediaId };
  const problem = async (verdict: ProblemVerdict, detail: string): Promise<AttachmentResolution> => {
    await ctx.recordProblem({
      messageId,
      mediaId: a.mediaId!,
      type: PROBLEM_TYPES[verdict.problem],
      reason: verdict.reason,
      detail,
    });
    return { status: 'problem', ...verdict };
  };
  const fetcher = deps?.fetchers.get(ctx.fetcherKey);
  if (!deps || !fetcher)
    return problem(
      { problem: 'unavailable', reason: 'Media download is not configured for this channel.' },
      `no media fetcher for ${ctx.fetcherKey}`,
    );
  const now = ctx.now ?? Date.now;
  const lastAttempt = isLastAttempt(deps.limits, ctx, now());

  let stored = await deps.store.head(key);
  if (!stored) {
    try {
      const timeoutMs = downloadBudgetMs(deps.limits, ctx, now());
      if (timeoutMs <= 0)
        throw new MediaFetchError(
          { problem: 'unavailable', reason: 'The media could not be downloaded from WhatsApp in time.' },
          true,
          'no time left in this attempt for the download',
        );
      const fetched = await fetcher.fetch(a.mediaId, kind, { ...deps.limits, downloadTimeoutMs: timeoutMs });
      const verdict = checkMedia(deps.limits, kind, fetched.mimeType, fetched.bytes.length);
      if (verdict) return problem(verdict, `downloaded ${fetched.mimeType}, ${fetched.bytes.length} bytes`);
      await deps.store.put(key, {
        bytes: fetched.bytes,
        mimeType: fetched.mimeType,
        sha256: fetched.sha256,
        filename: a.filename ?? null,
        transcript: null,
        conversationId: ctx.conversationId,
      });
      stored = await deps.store.head(key);
    } catch (err) {
      if (!(err instanceof MediaFetchError)) throw err;
      if (err.retryable && !lastAttempt) throw ApplicationFailure.retryable(err.message, 'MediaFetchRetry');
      return problem(err.verdict, err.detail);
    }
  }
  if (!stored) throw ApplicationFailure.retryable('media stored but not readable', 'MediaStoreLost');

  let transcript = stored.transcript;
  if (kind === 'audio' && transcript === null) {
    if (!deps.transcribe)
      return problem(
        { problem: 'unavailable', reason: 'Audio transcription is not configured.' },
        'no transcriber',
      );
    const media = await deps.store.get(key);
    if (!media) throw ApplicationFailure.retryable('media stored but not readable', 'MediaStoreLost');
    try {
      transcript = (await deps.transcribe({ bytes: media.bytes, mimeType: media.mimeType })).trim();
    } catch (err) {
      if (transcriptionRetryable(err) && !lastAttempt)
        throw ApplicationFailure.retryable('transcription failed; retrying', 'TranscriptionRetry');
      return problem(
        { problem: 'unavailable', reason: 'The audio could not be transcribed.' },
        `transcription: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (transcript === '')
      return problem(
        { problem: 'unavailable', reason: 'No speech was recognised in the audio.' },
        'empty transcript',
      );
    await deps.store.setTranscript(key, transcript);
  }
  return { status: 'stored', mimeType: stored.mimeType, byteSize: stored.byteSize, transcript };
}

/** Time kept back at the end of an attempt for what follows the downloads (the transcript write). */
export const ATTEMPT_RESERVE_MS = 5_000;
/** A download given less than this is not started: the next attempt gets a whole one. */
const MIN_DOWNLOAD_MS = 1_000;

/** No retry after this attempt: the attempts are used up, or the total time since the first is. */
export function isLastAttempt(limits: MediaLimits, ctx: ResolveContext, now: number): boolean {
  if (ctx.attempt >= limits.maxAttempts) return true;
  return ctx.firstAttemptAt !== undefined && now - ctx.firstAttemptAt >= limits.maxTotalMs;
}

/**
 * How long the next download may take: the configured timeout, cut to what is left of the attempt
 * (less the reserve), so that a slow download fails as a download (counted, bounded) instead of
 * timing the whole activity out, which would be retried without end. 0: do not start one.
 */
export function downloadBudgetMs(limits: MediaLimits, ctx: ResolveContext, now: number): number {
  const left = ctx.attemptEndsAt === undefined ? Infinity : ctx.attemptEndsAt - ATTEMPT_RESERVE_MS - now;
  const budget = Math.min(limits.downloadTimeoutMs, left);
  return budget < Math.min(MIN_DOWNLOAD_MS, limits.downloadTimeoutMs) ? 0 : Math.floor(budget);
}
