import { createHash } from 'node:crypto';
import { checkMedia, type MediaKind, type MediaLimits, type ProblemVerdict } from './limits.js';

/**
 * Downloads WhatsApp media through the Graph API: `GET /{media-id}` with the access token answers
 * `{url, mime_type, sha256, file_size, id}` (the URL lives for about five minutes), then `GET url`
 * with the same token answers the bytes. Sizes and types are checked before the download from what
 * Meta declares, and again while the bytes arrive.
 */

export interface FetchedMedia {
  bytes: Buffer;
  mimeType: string;
  sha256: string;
}

/** A failure with its verdict: `retryable` ones are tried again (bounded), the rest are final. */
export class MediaFetchError extends Error {
  constructor(
    readonly verdict: ProblemVerdict,
    readonly retryable: boolean,
    /** Operator-only detail (upstream status and text): error_records.message, never logs. */
    readonly detail: string,
  ) {
    super(verdict.reason);
    this.name = 'MediaFetchError';
  }
}

export interface MediaFetcher {
  fetch(mediaId: string, kind: MediaKind, limits: MediaLimits): Promise<FetchedMedia>;
}

export function createGraphMediaFetcher(options: {
  baseUrl: string;
  accessToken: string;
  fetch?: typeof fetch;
}): MediaFetcher {
  const http = options.fetch ?? fetch;
  const auth = { authorization: `Bearer ${options.accessToken}` };
  return {
    async fetch(mediaId, kind, limits) {
      const signal = AbortSignal.timeout(limits.downloadTimeoutMs);
      const metaRes = await call(() =>
        http(`${options.baseUrl}/${encodeURIComponent(mediaId)}`, { headers: auth, signal }),
      );
      if (!metaRes.ok) throw await httpFailure(metaRes, 'media lookup');
      const meta = (await metaRes.json().catch(() => ({}))) as {
        url?: unknown;
        mime_type?: unknown;
        file_size?: unknown;
        sha256?: unknown;
      };
      if (typeof meta.url !== 'string')
        throw unavailable(false, 'The Graph API answered the media lookup without a url.');
      const mimeType = typeof meta.mime_type === 'string' ? meta.mime_type : 'application/octet-stream';
      const declared = Number(meta.file_size);
      const early = checkMedia(limits, kind, mimeType, Number.isFinite(declared) ? declared : null);
      if (early)
        throw new MediaFetchError(early, false, `declared ${mimeType}, ${String(meta.file_size)} bytes`);

      const res = await call(() => http(meta.url as string, { headers: auth, signal }));
      if (!res.ok) throw await httpFailure(res, 'media download');
      // The timeout also ends a body that stops arriving: that is a failed download, retried bounded.
      const bytes = await readAtMost(res, limits.maxBytes[kind]).catch((err: unknown) => {
        throw unavailable(true, `download: ${err instanceof Error ? err.message : String(err)}`);
      });
      if (bytes === null) {
        const verdict = checkMedia(limits, kind, mimeType, limits.maxBytes[kind] + 1)!;
        throw new MediaFetchError(verdict, false, 'the download exceeded the limit');
      }
      return { bytes, mimeType, sha256: createHash('sha256').update(bytes).digest('hex') };
    },
  };
}

async function call(fn: () => Promise<Response>): Promise<Response> {
  try {
    return await fn();
  } catch (err) {
    throw unavailable(true, `connection: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function unavailable(retryable: boolean, detail: string): MediaFetchError {
  return new MediaFetchError(
    { problem: 'unavailable', reason: 'The media could not be downloaded from WhatsApp.' },
    retryable,
    detail,
  );
}

async function httpFailure(res: Response, what: string): Promise<MediaFetchError> {
  const text = (await res.text().catch(() => '')).slice(0, 500);
  // 404/400: the id is unknown or the URL expired; 401/403: the token cannot read it. Retrying
  // cannot help those; a 429 or 5xx may pass.
  const retryable = res.status === 429 || res.status >= 500;
  return new MediaFetchError(
    {
      problem: 'unavailable',
      reason: `The media could not be downloaded from WhatsApp (${what}: HTTP ${res.status}).`,
    },
    retryable,
    `${what} HTTP ${res.status}: ${text}`,
  );
}

/** The body, or null as soon as it grows past `max` bytes (the rest is not read). */
async function readAtMost(res: Response, max: number): Promise<Buffer | null> {
  const length = Number(res.headers.get('content-length'));
  if (Number.isFinite(length) && length > max) {
    await res.body?.cancel().catch(() => {});
    return null;
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}
