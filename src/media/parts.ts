import type OpenAI from 'openai';
import type { Attachment, InboundMessage } from '../workflows/messages.js';
import type { MediaKey, MediaStore } from './store.js';

/**
 * How media reaches the model. The transcript keeps a compact reference in the API's own part
 * shapes (`input_image.image_url`, `input_file.file_data` holding `threadline-media:<channel>/<id>`),
 * so Postgres stays the home of the bytes and no item grows with them; the model step expands each
 * reference into a base64 data URL when it builds the request (expandMediaRefs), on the first call
 * and on every recovery or stateless re-send alike.
 */

type Part = OpenAI.Responses.ResponseInputContent;

export const MEDIA_REF_PREFIX = 'threadline-media:';

export function mediaRef(channel: string, mediaId: string): string {
  return `${MEDIA_REF_PREFIX}${encodeURIComponent(channel)}/${encodeURIComponent(mediaId)}`;
}

export function parseMediaRef(ref: string): { channel: string; mediaId: string } | null {
  if (!ref.startsWith(MEDIA_REF_PREFIX)) return null;
  const [channel, mediaId, ...rest] = ref.slice(MEDIA_REF_PREFIX.length).split('/');
  if (!channel || !mediaId || rest.length) return null;
  return { channel: decodeURIComponent(channel), mediaId: decodeURIComponent(mediaId) };
}

const LABEL: Record<Attachment['kind'], string> = {
  image: 'image',
  sticker: 'sticker',
  document: 'document',
  audio: 'audio',
  video: 'video',
  unsupported: 'message',
};

/** One attachment as input parts (empty when it has nothing to show). */
export function attachmentParts(a: Attachment, channel: string): Part[] {
  const r = a.resolved;
  const label = a.kind === 'audio' && a.voice ? 'voice note' : LABEL[a.kind];
  if (a.kind === 'video') return [text('[video: the customer sent a video, which cannot be viewed here]')];
  if (a.kind === 'unsupported')
    return [
      text(`[unsupported message: the customer sent a ${a.type ?? 'message'} that cannot be read here]`),
    ];
  if (a.kind === 'sticker' && a.animated) return [text('[animated sticker]')];
  if (!r || r.status === 'skipped') return [text(`[${label}]`)];
  if (r.status === 'problem') return [text(`[${label} not received: ${r.reason}]`)];
  if (a.kind === 'audio') return [text(`[${label}, transcribed] ${r.transcript ?? ''}`)];
  const ref = mediaRef(channel, a.mediaId!);
  if (a.kind === 'image' || a.kind === 'sticker')
    return [
      ...(a.kind === 'sticker' ? [text('[sticker]')] : []),
      { type: 'input_image', detail: 'auto', image_url: ref },
    ];
  return [{ type: 'input_file', filename: a.filename ?? defaultFilename(r.mimeType), file_data: ref }];
}

function defaultFilename(mime: string): string {
  return mime.startsWith('application/pdf') ? 'document.pdf' : 'document.txt';
}

const text = (t: string): Part => ({ type: 'input_text', text: t });

/**
 * A message's content for the model: its media first, then its text (a caption, a location...).
 * A message without attachments is one input_text part, exactly as before media existed.
 */
export function messageContent(m: InboundMessage, channel: string): Part[] {
  const parts = (m.attachments ?? []).flatMap((a) => attachmentParts(a, channel));
  if (m.text.trim() !== '' || parts.length === 0) parts.push(text(m.text));
  return parts;
}

/**
 * Whether the model can use anything in these messages: text, a stored image or document, an audio
 * transcript. When not, the turn is answered with the agent's configured reply, without a model call.
 */
export function turnVerdict(messages: InboundMessage[]): 'usable' | 'media_problem' | 'unsupported' {
  let problem = false;
  for (const m of messages) {
    if (m.text.trim() !== '') return 'usable';
    for (const a of m.attachments ?? []) {
      const r = a.resolved;
      if (a.kind === 'sticker' && a.animated) return 'usable';
      if (r?.status === 'stored' && (a.kind !== 'audio' || (r.transcript ?? '').trim() !== ''))
        return 'usable';
      if (r?.status === 'problem') problem = true;
    }
  }
  return problem ? 'media_problem' : 'unsupported';
}

/** What a reference is replaced by when its bytes are gone (purged, or another store). */
export const MEDIA_GONE_TEXT = '[media no longer available]';

/**
 * Replaces media references in message parts with data URLs read from the store, scoped to the
 * conversation's tenant (a transcript cannot reach another tenant's media). Each medium is read once.
 */
export async function expandMediaRefs<T extends Record<string, unknown>>(
  items: T[],
  tenant: string,
  store: MediaStore | undefined,
): Promise<T[]> {
  if (!items.some(hasRef)) return items;
  const cache = new Map<string, string | null>();
  const dataUrl = async (ref: string): Promise<string | null> => {
    if (cache.has(ref)) return cache.get(ref)!;
    const parsed = parseMediaRef(ref);
    const key: MediaKey | null = parsed ? { tenant, ...parsed } : null;
    const media = key && store ? await store.get(key) : null;
    const url = media
      ? `data:${media.mimeType.split(';')[0]};base64,${media.bytes.toString('base64')}`
      : null;
    cache.set(ref, url);
    return url;
  };
  return Promise.all(
    items.map(async (item) => {
      if (!hasRef(item)) return item;
      const content = await Promise.all(
        (item.content as Record<string, unknown>[]).map(async (p) => {
          const field = p.type === 'input_image' ? 'image_url' : p.type === 'input_file' ? 'file_data' : null;
          const ref = field ? p[field] : undefined;
          if (!field || typeof ref !== 'string' || !ref.startsWith(MEDIA_REF_PREFIX)) return p;
          const url = await dataUrl(ref);
          return url ? { ...p, [field]: url } : text(MEDIA_GONE_TEXT);
        }),
      );
      return { ...item, content };
    }),
  );
}

function hasRef(item: Record<string, unknown>): boolean {
  return (
    item.type === 'message' &&
    Array.isArray(item.content) &&
    (item.content as Record<string, unknown>[]).some(
      (p) =>
        (typeof p.image_url === 'string' && p.image_url.startsWith(MEDIA_REF_PREFIX)) ||
        (typeof p.file_data === 'string' && p.file_data.startsWith(MEDIA_REF_PREFIX)),
    )
  );
}
