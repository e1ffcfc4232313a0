import { z } from 'zod';

/**
 * The parts of a WhatsApp Cloud API webhook body Threadline uses. Everything else (contacts'
 * profiles beyond the name, errors, unknown fields Meta adds later) is tolerated and ignored.
 */

const message = z.looseObject({
  id: z.string().min(1),
  from: z.string().min(1),
  timestamp: z.string().optional(),
  type: z.string(),
  text: z.looseObject({ body: z.string() }).optional(),
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

export interface WhatsAppTextMessage {
  /** The provider message id (`wamid.…`): the dedupe key and Threadline's message id. */
  id: string;
  /** The sender's WhatsApp id: the conversation id. */
  from: string;
  text: string;
  name: string | undefined;
  phoneNumberId: string | undefined;
  /** ISO time the user sent it, when WhatsApp says. */
  sentAt: string | undefined;
}

export interface ParsedWebhook {
  messages: WhatsAppTextMessage[];
  /** Delivery/read receipts: acknowledged and ignored. */
  statuses: number;
  /** Messages of types Threadline does not answer (images, reactions, ...). */
  unsupported: { id: string; type: string }[];
}

export function parseWebhook(body: z.output<typeof webhookBody>): ParsedWebhook {
  const out: ParsedWebhook = { messages: [], statuses: 0, unsupported: [] };
  for (const entry of body.entry) {
    for (const change of entry.changes) {
      const v = change.value;
      out.statuses += v.statuses?.length ?? 0;
      for (const m of v.messages ?? []) {
        if (m.type !== 'text' || !m.text || m.text.body.trim() === '') {
          out.unsupported.push({ id: m.id, type: m.type });
          continue;
        }
        const contact = v.contacts?.find((c) => c.wa_id === m.from) ?? v.contacts?.[0];
        const seconds = m.timestamp && /^\d+$/.test(m.timestamp) ? Number(m.timestamp) : undefined;
        out.messages.push({
          id: m.id,
          from: m.from,
          text: m.text.body,
          name: contact?.profile?.name,
          phoneNumberId: v.metadata?.phone_number_id,
          sentAt: seconds !== undefined ? new Date(seconds * 1000).toISOString() : undefined,
        });
      }
    }
  }
  return out;
}
