import { z } from 'zod';
import type { Pool } from '../../store/pool.js';
import { markWindowClosed } from './numbers.js';
import { RE_ENGAGEMENT_ERROR } from './window.js';

/**
 * Status webhooks: Meta reports each message it accepted as sent, delivered, read or failed (with
 * its error codes), at least once and in any order, in the `statuses` array of the same webhook
 * body as messages. They update the delivery ledger by provider message id.
 */

const statusShape = z.looseObject({
  id: z.string().min(1).max(512),
  status: z.string(),
  timestamp: z.string().optional(),
  recipient_id: z.string().optional(),
  errors: z
    .array(
      z.looseObject({
        code: z.number().int().optional(),
        title: z.string().optional(),
        message: z.string().optional(),
      }),
    )
    .optional(),
});

export type ProviderStatus = 'sent' | 'delivered' | 'read' | 'failed';

export interface StatusUpdate {
  providerMessageId: string;
  status: ProviderStatus;
  at: Date | null;
  errorCode: number | null;
  errorTitle: string | null;
}

/** The statuses Threadline tracks; others (Meta may add some) and malformed entries are skipped. */
export function parseStatuses(raw: unknown[] | undefined): StatusUpdate[] {
  const out: StatusUpdate[] = [];
  for (const entry of raw ?? []) {
    const s = statusShape.safeParse(entry);
    if (!s.success || !isTracked(s.data.status)) continue;
    const seconds = s.data.timestamp && /^\d+$/.test(s.data.timestamp) ? Number(s.data.timestamp) : null;
    const error = s.data.errors?.[0];
    out.push({
      providerMessageId: s.data.id,
      status: s.data.status,
      at: seconds !== null ? new Date(seconds * 1000) : null,
      errorCode: error?.code ?? null,
      errorTitle: error?.title?.slice(0, 200) ?? null,
    });
  }
  return out;
}

function isTracked(status: string): status is ProviderStatus {
  return status === 'sent' || status === 'delivered' || status === 'read' || status === 'failed';
}

/**
 * How far a message has got. Statuses arrive out of order, so one only replaces a lower rank: a
 * late 'delivered' after 'read' changes nothing. 'failed' ranks above 'sent' and below
 * 'delivered': a message that was delivered or read did arrive, whatever a stray failure says.
 */
export const STATUS_RANK: Record<ProviderStatus, number> = { sent: 1, failed: 2, delivered: 3, read: 4 };

export function advances(current: ProviderStatus | null, incoming: ProviderStatus): boolean {
  return current === null || STATUS_RANK[incoming] > STATUS_RANK[current];
}

export interface StatusOutcome {
  applied: number;
  /** Known message, but the status would move it backwards (or repeats it). */
  stale: number;
  /** No ledger row of this tenant has the message id (sent by another system, or long purged). */
  unknown: number;
  /** Turns with a message Meta refused with 131047 in these statuses (again, on a redelivery). */
  refusals: { conversationId: string; turn: number }[];
}

/**
 * Applies statuses to the ledger rows of `tenant` only. Meta's 131047 ("Re-engagement message":
 * the customer last wrote more than 24 hours ago) also settles the row as blocked and closes the
 * conversation's window, so the next reply goes out as the agent's template or is blocked; the
 * refused turns are returned for their template (src/channels/whatsapp/reEngagement.ts).
 */
export async function applyStatuses(
  pool: Pool,
  at: { tenant: string; phoneNumberId: string },
  updates: StatusUpdate[],
): Promise<StatusOutcome> {
  const outcome: StatusOutcome = { applied: 0, stale: 0, unknown: 0, refusals: [] };
  const rankSql = (col: string) =>
    `CASE ${col} ${Object.entries(STATUS_RANK)
      .map(([s, r]) => `WHEN '${s}' THEN ${r}`)
      .join(' ')} ELSE 0 END`;
  for (const u of updates) {
    const windowRefusal = u.status === 'failed' && u.errorCode === RE_ENGAGEMENT_ERROR;
    const { rows } = await pool.query<{ conversation_id: string }>(
      `UPDATE deliveries SET provider_status = $3, provider_status_at = coalesce($4, now()),
         provider_error_code = CASE WHEN $3 = 'failed' THEN $5::int ELSE provider_error_code END,
         provider_error_title = CASE WHEN $3 = 'failed' THEN $6 ELSE provider_error_title END,
         status = CASE WHEN $7 THEN 'blocked' ELSE status END,
         error = CASE WHEN $7 THEN $8 ELSE error END,
         updated_at = now()
       WHERE provider_message_id = $1 AND tenant = $2 AND channel = 'whatsapp'
         AND ${rankSql('provider_status')} < ${rankSql('$3::text')}
       RETURNING conversation_id`,
      [
        u.providerMessageId,
        at.tenant,
        u.status,
        u.at,
        u.errorCode,
        u.errorTitle,
        windowRefusal,
        `outside the 24-hour customer service window: WhatsApp reported ${RE_ENGAGEMENT_ERROR} (Re-engagement message)`,
      ],
    );
    if (windowRefusal) {
      // Applied now or by an earlier delivery of the same status: either way the turn's refusal.
      const { rows: refused } = await pool.query<{ conversation_id: string; turn: number }>(
        `SELECT conversation_id, turn FROM deliveries
          WHERE provider_message_id = $1 AND tenant = $2 AND channel = 'whatsapp'
            AND status = 'blocked' AND provider_error_code = $3`,
        [u.providerMessageId, at.tenant, RE_ENGAGEMENT_ERROR],
      );
      for (const r of refused)
        if (!outcome.refusals.some((x) => x.conversationId === r.conversation_id && x.turn === r.turn))
          outcome.refusals.push({ conversationId: r.conversation_id, turn: r.turn });
    }
    if (rows.length > 0) {
      outcome.applied += 1;
      if (windowRefusal)
        await markWindowClosed(pool, {
          conversationId: rows[0]!.conversation_id,
          tenant: at.tenant,
          phoneNumberId: at.phoneNumberId,
        });
      continue;
    }
    const known = await pool.query(
      `SELECT 1 FROM deliveries WHERE provider_message_id = $1 AND tenant = $2 AND channel = 'whatsapp' LIMIT 1`,
      [u.providerMessageId, at.tenant],
    );
    if (known.rowCount) outcome.stale += 1;
    else outcome.unknown += 1;
  }
  return outcome;
}
