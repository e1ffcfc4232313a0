/**
 * WhatsApp's customer service window: for 24 hours after the customer's last message a business
 * may send anything; after that only templates. Pure, so the decision has its own tests.
 */

export const WINDOW_MS = 24 * 60 * 60 * 1000;

/** Meta's error code for a free-form message outside the window ("Re-engagement message"). */
export const RE_ENGAGEMENT_ERROR = 131047;

export type WindowState = { open: true } | { open: false; reason: string };

export interface WindowFacts {
  /** When the customer last wrote to the business number (Meta's timestamp); null: never seen. */
  lastInboundAt: Date | null;
  /** When Meta last refused a message with 131047; null: never. */
  windowClosedAt: Date | null;
  now: Date;
}

/**
 * Open while the last inbound message is under 24 hours old and Meta has not refused a message
 * since. A conversation Threadline never heard from on WhatsApp (started through the API) is left
 * to Meta: it is treated as open, and Meta's 131047 refusal closes it.
 */
export function decideWindow(f: WindowFacts): WindowState {
  if (f.windowClosedAt && (!f.lastInboundAt || f.windowClosedAt >= f.lastInboundAt))
    return {
      open: false,
      reason: `outside the 24-hour customer service window: WhatsApp refused a message with ${RE_ENGAGEMENT_ERROR} (Re-engagement message) and the customer has not written since`,
    };
  if (f.lastInboundAt && f.now.getTime() - f.lastInboundAt.getTime() >= WINDOW_MS)
    return {
      open: false,
      reason: `outside the 24-hour customer service window: the customer last wrote at ${f.lastInboundAt.toISOString()}`,
    };
  return { open: true };
}
