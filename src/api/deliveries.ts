import { z } from 'zod';
import type { Pool } from '../store/pool.js';

/** One message a conversation sent out, as the API shows it: the ledger row and what Meta said. */
export const deliveryShape = z
  .object({
    object: z.literal('conversation.delivery'),
    turn: z.number().int(),
    part: z
      .string()
      .describe("'text' (the turn's reply), 'action/{id}' (a tool's channel action) or 'template'"),
    status: z
      .string()
      .describe(
        'The ledger: pending, sending, sent, failed (refused for good), blocked (outside the window), no_sender, nothing_to_send',
      ),
    providerMessageId: z.string().nullable(),
    providerStatus: z
      .enum(['sent', 'delivered', 'read', 'failed'])
      .nullable()
      .describe('The latest status webhook (never moves backwards)'),
    providerStatusAt: z.string().nullable(),
    errorCode: z.number().int().nullable().describe("Meta's error code of a failed message (e.g. 131047)"),
    errorTitle: z.string().nullable(),
    reason: z.string().nullable().describe('Why a message is blocked or failed'),
    attempts: z.number().int(),
    possibleDuplicates: z.number().int(),
    action: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe('The channel action of an action/{id} part, as the tool sent it'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'ConversationDelivery' });

export type ApiDelivery = z.output<typeof deliveryShape>;

/** A conversation's deliveries in sending order: by turn, then actions in emission order, then the text. */
export async function listDeliveries(
  pool: Pool,
  conversationId: string,
  limit: number,
): Promise<ApiDelivery[]> {
  const { rows } = await pool.query<{
    turn: number;
    part: string;
    status: string;
    provider_message_id: string | null;
    provider_status: ApiDelivery['providerStatus'];
    provider_status_at: Date | null;
    provider_error_code: number | null;
    provider_error_title: string | null;
    error: string | null;
    attempts: number;
    possible_duplicates: number;
    action: Record<string, unknown> | null;
    created_at: Date;
    updated_at: Date;
  }>(
    `SELECT d.turn, d.part, d.status, d.provider_message_id, d.provider_status, d.provider_status_at,
            d.provider_error_code, d.provider_error_title, d.error, d.attempts, d.possible_duplicates,
            a.action, d.created_at, d.updated_at
       FROM deliveries d
       LEFT JOIN channel_actions a ON d.part LIKE 'action/%' AND a.id::text = substr(d.part, 8)
      WHERE d.conversation_id = $1
      ORDER BY d.turn DESC,
               CASE WHEN d.part LIKE 'action/%' THEN 0 WHEN d.part = 'text' THEN 1 ELSE 2 END,
               a.id, d.part
      LIMIT $2`,
    [conversationId, limit],
  );
  return rows.map((r) => ({
    object: 'conversation.delivery',
    turn: r.turn,
    part: r.part,
    status: r.status,
    providerMessageId: r.provider_message_id,
    providerStatus: r.provider_status,
    providerStatusAt: r.provider_status_at?.toISOString() ?? null,
    errorCode: r.provider_error_code,
    errorTitle: r.provider_error_title,
    reason: r.error,
    attempts: r.attempts,
    possibleDuplicates: r.possible_duplicates,
    action: r.action,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  }));
}
