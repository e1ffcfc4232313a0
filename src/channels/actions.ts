import { z } from 'zod';
import type { Pool } from '../store/pool.js';

/**
 * Channel actions: what a tool sends beside the turn's text (a document, a picture, a location,
 * buttons, a list, a template). The shapes follow the WhatsApp Cloud API's message objects and
 * their documented limits (docs/api.md, "WhatsApp outbound"), so an action that passes here is one
 * Meta accepts; channels that cannot carry an action get its `fallbackText`.
 */

const text = (max: number) => z.string().trim().min(1).max(max);
const mediaSource = {
  url: z
    .string()
    .trim()
    .max(2048)
    .refine((v) => /^https?:\/\/\S+$/.test(v), { message: 'must be an http(s) URL' })
    .optional(),
  mediaId: z.string().trim().min(1).max(256).optional(),
};
const oneSource = (a: { url?: string | undefined; mediaId?: string | undefined }) =>
  (a.url === undefined) !== (a.mediaId === undefined);
const oneSourceMessage = { message: 'give exactly one of url or mediaId', path: ['url'] };

const image = z
  .strictObject({ type: z.literal('image'), ...mediaSource, caption: text(1024).optional() })
  .refine(oneSource, oneSourceMessage);

const document = z
  .strictObject({
    type: z.literal('document'),
    ...mediaSource,
    filename: text(240).optional(),
    caption: text(1024).optional(),
  })
  .refine(oneSource, oneSourceMessage);

const location = z.strictObject({
  type: z.literal('location'),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  name: text(1000).optional(),
  address: text(1000).optional(),
});

const replyButton = z.strictObject({ id: text(256), title: text(20) });
const buttons = z
  .strictObject({
    type: z.literal('buttons'),
    header: text(60).optional(),
    body: text(1024),
    footer: text(60).optional(),
    buttons: z.array(replyButton).min(1).max(3),
  })
  .refine((a) => new Set(a.buttons.map((b) => b.id)).size === a.buttons.length, {
    message: 'button ids must be unique',
    path: ['buttons'],
  });

const row = z.strictObject({ id: text(200), title: text(24), description: text(72).optional() });
const list = z
  .strictObject({
    type: z.literal('list'),
    header: text(60).optional(),
    body: text(4096),
    footer: text(60).optional(),
    button: text(20),
    sections: z
      .array(z.strictObject({ title: text(24).optional(), rows: z.array(row).min(1) }))
      .min(1)
      .max(10),
  })
  .refine((a) => a.sections.reduce((n, s) => n + s.rows.length, 0) <= 10, {
    message: 'a list holds at most 10 rows across all its sections',
    path: ['sections'],
  })
  .refine((a) => a.sections.length === 1 || a.sections.every((s) => s.title), {
    message: 'every section needs a title when there is more than one',
    path: ['sections'],
  });

/** A template: the only message WhatsApp delivers outside the 24-hour customer service window. */
export const templateShape = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9_]{1,512}$/, { message: 'must be a template name: lowercase letters, digits and _' }),
  language: z
    .string()
    .regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, { message: 'must be a language code such as en or en_US' }),
  /** Meta's `components` array (header/body/button parameters), passed through as given. */
  components: z.array(z.record(z.string(), z.unknown())).max(20).optional(),
});
const template = templateShape.extend({ type: z.literal('template') });

export const channelAction = z.discriminatedUnion('type', [
  image,
  document,
  location,
  buttons,
  list,
  template,
]);

export type ChannelAction = z.output<typeof channelAction>;
export type TemplateSpec = z.output<typeof templateShape>;

/** Validates an action a tool emits; the error names the field and the limit. */
export function parseChannelAction(input: unknown): ChannelAction {
  const parsed = channelAction.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${['action', ...i.path].join('.')} ${i.message}`);
  throw new Error(`Invalid channel action: ${problems.join('; ')}`);
}

/**
 * The action as plain text, for channels that carry text only (and for a reader of the ledger):
 * links stay links, a location becomes a map link, buttons and list rows become numbered options.
 */
export function fallbackText(action: ChannelAction): string {
  switch (action.type) {
    case 'image':
    case 'document': {
      const label = action.type === 'document' ? (action.filename ?? 'Document') : 'Image';
      const where = action.url ?? `(media ${action.mediaId})`;
      return [action.caption, `${label}: ${where}`].filter(Boolean).join('\n');
    }
    case 'location': {
      const place = [action.name, action.address].filter(Boolean).join(', ');
      const map = `https://www.google.com/maps/search/?api=1&query=${action.latitude},${action.longitude}`;
      return place ? `${place}\n${map}` : map;
    }
    case 'buttons':
      return [
        action.header,
        action.body,
        ...action.buttons.map((b, i) => `${i + 1}. ${b.title}`),
        action.footer,
      ]
        .filter(Boolean)
        .join('\n');
    case 'list': {
      const rows = action.sections.flatMap((s) => s.rows);
      return [
        action.header,
        action.body,
        ...rows.map((r, i) => `${i + 1}. ${r.title}${r.description ? ` (${r.description})` : ''}`),
        action.footer,
      ]
        .filter(Boolean)
        .join('\n');
    }
    case 'template':
      return `[template ${action.name} (${action.language})]`;
  }
}

/**
 * Records one action of a tool call, once: the n-th send of a call is keyed by its idempotency key
 * and n, so a retried call that sends the same things again adds nothing.
 */
export async function recordAction(
  pool: Pool,
  at: { conversationId: string; turn: number; idempotencyKey: string; seq: number },
  action: ChannelAction,
): Promise<void> {
  await pool.query(
    `INSERT INTO channel_actions (conversation_id, turn, idempotency_key, seq, action)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key, seq) DO NOTHING`,
    [at.conversationId, at.turn, at.idempotencyKey, at.seq, JSON.stringify(action)],
  );
}

/**
 * A turn's actions in the order the tools emitted them. Only calls that completed count: a tool
 * that failed for good told the model so, and what it sent before failing is not delivered.
 */
export async function loadTurnActions(
  pool: Pool,
  conversationId: string,
  turn: number,
): Promise<{ id: string; action: ChannelAction }[]> {
  const { rows } = await pool.query<{ id: string; action: ChannelAction }>(
    `SELECT a.id::text AS id, a.action FROM channel_actions a
       JOIN tool_calls t ON t.idempotency_key = a.idempotency_key AND t.status = 'completed'
      WHERE a.conversation_id = $1 AND a.turn = $2
      ORDER BY a.id`,
    [conversationId, turn],
  );
  return rows;
}
