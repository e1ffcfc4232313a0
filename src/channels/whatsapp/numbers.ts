import type { WhatsAppConfig, WhatsAppNumber } from '../../config.js';
import type { Pool } from '../../store/pool.js';

/** The deployment's business numbers: WHATSAPP_NUMBERS, or the single number of the old variables. */
export function whatsappNumbers(config: WhatsAppConfig): WhatsAppNumber[] {
  if (config.numbers) return config.numbers;
  return config.phoneNumberId ? [{ phoneNumberId: config.phoneNumberId, tenant: config.tenant }] : [];
}

/** Where a webhook's message goes: the number's entry, or why it goes nowhere. */
export type NumberRoute =
  | { kind: 'number'; number: WhatsAppNumber }
  /** No numbers configured (an inbound-only setup of the old variables): everything to WHATSAPP_TENANT. */
  | { kind: 'single_tenant'; tenant: string }
  | { kind: 'unknown'; phoneNumberId: string | undefined };

/**
 * Selects the tenant by the body's `metadata.phone_number_id`. A number this deployment does not
 * list is never routed to a default tenant: its messages would reach a tenant that does not own it.
 */
export function routeNumber(config: WhatsAppConfig, phoneNumberId: string | undefined): NumberRoute {
  const numbers = whatsappNumbers(config);
  if (numbers.length === 0) return { kind: 'single_tenant', tenant: config.tenant };
  const number = numbers.find((n) => n.phoneNumberId === phoneNumberId);
  return number ? { kind: 'number', number } : { kind: 'unknown', phoneNumberId };
}

/** The tenants that own a WhatsApp number (their keys alone may message the whatsapp channel). */
export function whatsappOwners(config: WhatsAppConfig): string[] {
  const numbers = whatsappNumbers(config);
  return numbers.length ? [...new Set(numbers.map((n) => n.tenant))] : [config.tenant];
}

/**
 * Remembers the number a conversation came in on and when the customer last wrote (Meta's
 * timestamp; it only moves forward, so a late redelivery of an old message cannot shorten the window).
 */
export async function rememberInbound(
  pool: Pool,
  row: { conversationId: string; tenant: string; phoneNumberId: string; sentAt: string | undefined },
): Promise<void> {
  await pool.query(
    `INSERT INTO whatsapp_conversations (conversation_id, tenant, phone_number_id, last_inbound_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (conversation_id) DO UPDATE SET
       phone_number_id = EXCLUDED.phone_number_id,
       last_inbound_at = GREATEST(whatsapp_conversations.last_inbound_at, EXCLUDED.last_inbound_at),
       updated_at = now()`,
    [row.conversationId, row.tenant, row.phoneNumberId, row.sentAt ?? new Date().toISOString()],
  );
}

export interface WhatsAppConversation {
  phoneNumberId: string;
  lastInboundAt: Date | null;
  windowClosedAt: Date | null;
}

export async function loadWhatsAppConversation(
  pool: Pool,
  conversationId: string,
): Promise<WhatsAppConversation | undefined> {
  const { rows } = await pool.query<{
    phone_number_id: string;
    last_inbound_at: Date | null;
    window_closed_at: Date | null;
  }>(
    'SELECT phone_number_id, last_inbound_at, window_closed_at FROM whatsapp_conversations WHERE conversation_id = $1',
    [conversationId],
  );
  const r = rows[0];
  return (
    r && {
      phoneNumberId: r.phone_number_id,
      lastInboundAt: r.last_inbound_at,
      windowClosedAt: r.window_closed_at,
    }
  );
}

/** Meta refused a message as outside the window (131047): free-form messages wait for the customer. */
export async function markWindowClosed(
  pool: Pool,
  row: { conversationId: string; tenant: string; phoneNumberId: string },
): Promise<void> {
  await pool.query(
    `INSERT INTO whatsapp_conversations (conversation_id, tenant, phone_number_id, window_closed_at)
     VALUES ($1, $2, $3, now())
     ON CONFLICT (conversation_id) DO UPDATE SET window_closed_at = now(), updated_at = now()`,
    [row.conversationId, row.tenant, row.phoneNumberId],
  );
}
