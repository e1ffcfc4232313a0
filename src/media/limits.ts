import type { AttachmentKind } from '../workflows/messages.js';

/**
 * What media the runtime takes in, per kind. Defaults (src/config.ts) follow the tighter of
 * Meta's inbound limits and what OpenAI accepts:
 * - image/sticker: 5 MB (WhatsApp's image limit; a static sticker is at most 100 KB, an animated one
 *   500 KB), JPEG, PNG, WebP, GIF (the vision input formats: png, jpeg, webp, non-animated gif);
 * - document: 32 MB (OpenAI's file-input size for one request; WhatsApp allows 100 MB), PDF and
 *   plain text (the types the model reads well as `input_file`);
 * - audio: 16 MB (WhatsApp's audio limit, under the transcription endpoint's 25 MB), the
 *   transcription formats WhatsApp sends: ogg (voice notes, opus), mpeg (mp3), mp4/m4a, wav, webm,
 *   flac. AMR and AAC, which WhatsApp also carries, are not transcription formats.
 */
export type MediaKind = 'image' | 'document' | 'audio';

export interface MediaLimits {
  maxBytes: Record<MediaKind, number>;
  mimeTypes: Record<MediaKind, string[]>;
  /** Attempts of a failing download or transcription before the customer gets the media reply. */
  maxAttempts: number;
  /** One attempt's lookup and download together; cut shorter when the activity's own time runs out. */
  downloadTimeoutMs: number;
  /** From the first attempt: past it, the next failure is final, whatever attempts remain. */
  maxTotalMs: number;
}

export const DEFAULT_MEDIA_LIMITS: MediaLimits = {
  maxBytes: { image: 5 * 1024 * 1024, document: 32 * 1024 * 1024, audio: 16 * 1024 * 1024 },
  mimeTypes: {
    image: ['image/jpeg', 'image/png', 'image/webp', 'image/gif'],
    document: ['application/pdf', 'text/plain'],
    audio: ['audio/ogg', 'audio/mpeg', 'audio/mp4', 'audio/m4a', 'audio/wav', 'audio/webm', 'audio/flac'],
  },
  maxAttempts: 5,
  downloadTimeoutMs: 20_000,
  maxTotalMs: 120_000,
};

/** Which limits an attachment falls under; video and unsupported types are never fetched. */
export function mediaKindOf(kind: AttachmentKind): MediaKind | null {
  if (kind === 'image' || kind === 'sticker') return 'image';
  if (kind === 'document') return 'document';
  if (kind === 'audio') return 'audio';
  return null;
}

/** `audio/ogg; codecs=opus` -> `audio/ogg`. */
export function baseMime(mime: string): string {
  return mime.split(';')[0]!.trim().toLowerCase();
}

export type MediaProblem = 'too_large' | 'type_not_allowed' | 'unavailable';

export interface ProblemVerdict {
  problem: MediaProblem;
  /** Written by the runtime, safe for the tenant to read. */
  reason: string;
}

/** The limits' verdict on a declared or downloaded size and type; null when it may go in. */
export function checkMedia(
  limits: MediaLimits,
  kind: MediaKind,
  mimeType: string,
  byteSize: number | null,
): ProblemVerdict | null {
  const mime = baseMime(mimeType);
  if (!limits.mimeTypes[kind].includes(mime))
    return {
      problem: 'type_not_allowed',
      reason: `The ${kind} type ${safe(mime)} is not accepted (accepted: ${limits.mimeTypes[kind].join(', ')}).`,
    };
  if (byteSize !== null && byteSize > limits.maxBytes[kind])
    return {
      problem: 'too_large',
      reason: `The ${kind} is ${byteSize} bytes, over the limit of ${limits.maxBytes[kind]} bytes.`,
    };
  return null;
}

function safe(s: string): string {
  return /^[\w.+/-]{1,100}$/.test(s) ? s : '(unreadable type)';
}

/** The file extension the transcription endpoint identifies a format by. */
export function audioExtension(mimeType: string): string {
  const table: Record<string, string> = {
    'audio/ogg': 'ogg',
    'audio/mpeg': 'mp3',
    'audio/mp4': 'm4a',
    'audio/m4a': 'm4a',
    'audio/wav': 'wav',
    'audio/webm': 'webm',
    'audio/flac': 'flac',
  };
  return table[baseMime(mimeType)] ?? 'bin';
}
