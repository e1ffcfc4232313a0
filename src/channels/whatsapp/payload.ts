import { z } from 'zod';
import type { Attachment, AttachmentKind } from '../../workflows/messages.js';

/**
 * The parts of a WhatsApp Cloud API webhook body Threadline uses. Everything else (contacts'
 * profiles beyond the name, errors, unknown fields Meta adds later) is tolerated and ignored.
 * Each message type's own object (`image`, `location`, ...) is read defensively in
 * `parseMessage`: a signed body from Meta with a field missing must not turn into a 400 that
 * makes Meta redeliver forever.
 */

const message = z.looseObject({
  id: z.string().min(1),
  from: z.string().min(1),
  timestamp: z.string().optional(),
  type: z.string(),
});

const value = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: z.looseObject({ phone_number_id: z.string().optional() }).optional(),
  contacts: z
    .array(
      z.looseObject({
        wa_id: z.string().optional(),
        profile: z.looseObject({ name: z.string().optional() }).optional(),
      }),
    )
    .optional(),
  messages: z.array(message).optional(),
  statuses: z.array(z.unknown()).optional(),
});

export const webhookBody = z.looseObject({
  object: z.string(),
  entry: z.array(
    z.looseObject({
      changes: z.array(z.looseObject({ field: z.string().optional(), value })),
    }),
  ),
});

/** A metadata value's limit (the API's own for `metadata` values). */
export const METADATA_VALUE_CHARS = 512;

export interface WhatsAppMessage {
  /** The provider message id (`wamid.…`): the dedupe key and Threadline's message id. */
  id: string;
  /** The sender's WhatsApp id: the conversation id. */
  from: string;
  /** Meta's message type (`text`, `image`, ..., or one Threadline does not know). */
  type: string;
  /** What the model reads: the text, a caption, or a rendering of a location, contact or reply. */
  text: string;
  /** A reference to the media (never its bytes), or the marker of a type the agent cannot use. */
  attachment: Attachment | undefined;
  /** Type-specific facts for tools (`latitude`, `replyId`, ...), values at most 512 characters. */
  metadata: Record<string, string>;
  name: string | undefined;
  phoneNumberId: string | undefined;
  /** ISO time the user sent it, when WhatsApp says. */
  sentAt: string | undefined;
}

export interface WhatsAppReaction {
  id: string;
  from: string;
  /** The message reacted to. */
  messageId: string;
  /** Empty when the user removed their reaction. */
  emoji: string;
  phoneNumberId: string | undefined;
  sentAt: string | undefined;
}

export interface ParsedWebhook {
  /** Every message that gets an answer, in the order Meta sent them. */
  messages: WhatsAppMessage[];
  /** Reactions: recorded, never answered. */
  reactions: WhatsAppReaction[];
  /** Delivery/read receipts: acknowledged and ignored. */
  statuses: number;
}

export function parseWebhook(body: z.output<typeof webhookBody>): ParsedWebhook {
  const out: ParsedWebhook = { messages: [], reactions: [], statuses: 0 };
  for (const entry of body.entry) {
    for (const change of entry.changes) {
      const v = change.value;
      out.statuses += v.statuses?.length ?? 0;
      for (const m of v.messages ?? []) {
        const contact = v.contacts?.find((c) => c.wa_id === m.from) ?? v.contacts?.[0];
        const seconds = m.timestamp && /^\d+$/.test(m.timestamp) ? Number(m.timestamp) : undefined;
        const sentAt = seconds !== undefined ? new Date(seconds * 1000).toISOString() : undefined;
        const phoneNumberId = v.metadata?.phone_number_id;
        const raw = m as Record<string, unknown>;
        if (m.type === 'reaction') {
          const r = obj(raw.reaction);
          out.reactions.push({
            id: m.id,
            from: m.from,
            // Meta's own examples spell it both ways.
            messageId: str(r.message_id) ?? str(r.messsage_id) ?? '',
            emoji: str(r.emoji) ?? '',
            phoneNumberId,
            sentAt,
          });
          continue;
        }
        const parsed = parseMessage(m.type, raw);
        const replyTo = str(obj(raw.context).id);
        out.messages.push({
          id: m.id,
          from: m.from,
          type: m.type,
          text: parsed.text,
          attachment: parsed.attachment,
          metadata: limitValues({
            type: m.type,
            ...parsed.metadata,
            ...(replyTo ? { replyTo } : {}),
          }),
          name: contact?.profile?.name,
          phoneNumberId,
          sentAt,
        });
      }
    }
  }
  return out;
}

const MEDIA_KINDS: readonly AttachmentKind[] = ['image', 'document', 'audio', 'video', 'sticker'];

interface MessageContent {
  text: string;
  attachment: Attachment | undefined;
  metadata: Record<string, string>;
}

/** One message's content by type. Pure: what the model and tools get from a Meta payload. */
export function parseMessage(type: string, raw: Record<string, unknown>): MessageContent {
  const none = { attachment: undefined, metadata: {} };
  if (type === 'text') {
    const body = str(obj(raw.text).body) ?? '';
    if (body.trim() !== '') return { text: body, ...none };
    return unsupported(type);
  }
  if ((MEDIA_KINDS as readonly string[]).includes(type)) {
    const media = obj(raw[type]);
    const id = str(media.id);
    if (!id) return unsupported(type);
    const attachment: Attachment = {
      kind: type as AttachmentKind,
      mediaId: id,
      ...optional('mimeType', str(media.mime_type)),
      ...optional('sha256', str(media.sha256)),
      ...optional('filename', str(media.filename)),
      ...(media.voice === true ? { voice: true } : {}),
      ...(media.animated === true ? { animated: true } : {}),
    };
    return {
      text: str(media.caption) ?? '',
      attachment,
      metadata: {
        mediaId: id,
        ...optional('mimeType', attachment.mimeType),
        ...optional('filename', attachment.filename),
        ...(attachment.voice ? { voice: 'true' } : {}),
      },
    };
  }
  if (type === 'location') {
    const loc = obj(raw.location);
    const lat = num(loc.latitude);
    const lng = num(loc.longitude);
    if (lat === undefined || lng === undefined) return unsupported(type);
    const name = str(loc.name);
    const address = str(loc.address);
    const url = str(loc.url);
    const details = [name, address, url].filter(Boolean).join(', ');
    return {
      text: `[location] ${lat},${lng}${details ? ` ${details}` : ''}`,
      attachment: undefined,
      metadata: {
        latitude: String(lat),
        longitude: String(lng),
        ...optional('locationName', name),
        ...optional('address', address),
        ...optional('url', url),
      },
    };
  }
  if (type === 'contacts') {
    const contacts = Array.isArray(raw.contacts) ? raw.contacts.map(obj) : [];
    if (contacts.length === 0) return unsupported(type);
    const lines = contacts.map((c) => {
      const name = str(obj(c.name).formatted_name) ?? str(obj(c.name).first_name) ?? 'unnamed';
      const phones = list(c.phones).map((p) => str(obj(p).phone) ?? str(obj(p).wa_id) ?? '');
      const emails = list(c.emails).map((e) => str(obj(e).email) ?? '');
      const org = str(obj(c.org).company);
      return [name, ...phones, ...emails, ...(org ? [org] : [])].filter(Boolean).join(', ');
    });
    const first = contacts[0]!;
    const firstPhone = list(first.phones).map((p) => str(obj(p).phone) ?? str(obj(p).wa_id))[0];
    const firstWaId = list(first.phones).map((p) => str(obj(p).wa_id))[0];
    return {
      text: lines.map((l) => `[contact] ${l}`).join('\n'),
      attachment: undefined,
      metadata: {
        contactCount: String(contacts.length),
        ...optional('contactName', str(obj(first.name).formatted_name)),
        ...optional('contactPhone', firstPhone),
        ...optional('contactWaId', firstWaId),
      },
    };
  }
  if (type === 'interactive') {
    const inter = obj(raw.interactive);
    const kind = str(inter.type) ?? '';
    const reply = obj(inter[kind]);
    const id = str(reply.id);
    const title = str(reply.title);
    if (kind === 'button_reply' || kind === 'list_reply') {
      if (!title && !id) return unsupported(`interactive.${kind}`);
      const description = str(reply.description);
      const label = kind === 'button_reply' ? 'button' : 'list choice';
      return {
        text: `[${label}] ${title ?? id}${description ? ` (${description})` : ''}`,
        attachment: undefined,
        metadata: {
          replyType: kind,
          ...optional('replyId', id),
          ...optional('replyTitle', title),
          ...optional('replyDescription', description),
        },
      };
    }
    if (kind === 'nfm_reply') {
      // A WhatsApp Flow's answers: the JSON the form produced.
      const response = str(reply.response_json);
      if (!response) return unsupported(`interactive.${kind}`);
      return {
        text: `[form reply] ${response}`,
        attachment: undefined,
        metadata: { replyType: kind, ...optional('flowName', str(reply.name)) },
      };
    }
    return unsupported(`interactive.${kind || 'unknown'}`);
  }
  if (type === 'button') {
    // A template's quick-reply button: `text` is the label, `payload` what the template set.
    const button = obj(raw.button);
    const label = str(button.text) ?? str(button.payload);
    if (!label) return unsupported(type);
    return {
      text: `[button] ${label}`,
      attachment: undefined,
      metadata: {
        ...optional('buttonText', str(button.text)),
        ...optional('buttonPayload', str(button.payload)),
      },
    };
  }
  // `unsupported` (Meta's own type for what the Cloud API cannot deliver), and types Meta adds later.
  const code = list(raw.errors).map((e) => obj(e).code)[0];
  return {
    ...unsupported(type),
    metadata: typeof code === 'number' || typeof code === 'string' ? { errorCode: String(code) } : {},
  };
}

function unsupported(type: string): MessageContent {
  return { text: '', attachment: { kind: 'unsupported', type }, metadata: {} };
}

function limitValues(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).map(([k, v]) => [k, Array.from(v).slice(0, METADATA_VALUE_CHARS).join('')]),
  );
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function optional<K extends string>(key: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [key]: v } as Record<K, string>);
}
