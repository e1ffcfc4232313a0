import { tool } from '@openai/agents';
import { z } from 'zod';
import type { ToolContext } from '../types.js';

/**
 * The example agent's tools. `book_table` has a side effect, made once per idempotency key however
 * often Temporal retries the activity; a real tool passes the key to the booking system instead
 * (most booking and payment APIs accept one).
 */

export interface Booking {
  code: string;
  tenant: string;
  conversationId: string;
  user: string | null;
  date: string;
  time: string;
  partySize: number;
  name: string;
}

/** Process-local stand-in for a booking system, keyed by idempotency key. */
export class BookingLedger {
  readonly bookings = new Map<string, Booking>();
  /** How many times book_table ran per key, retries included (tests read it). */
  readonly attempts = new Map<string, number>();

  book(key: string, booking: Omit<Booking, 'code'>): Booking {
    this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
    const existing = this.bookings.get(key);
    if (existing) return existing;
    const created = { ...booking, code: `TL-${this.bookings.size + 1001}` };
    this.bookings.set(key, created);
    return created;
  }
}

const DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

function contextOf(runContext: { context: unknown } | undefined): ToolContext {
  const ctx = runContext?.context as ToolContext | undefined;
  if (!ctx?.idempotencyKey) throw new Error('This tool runs only inside Threadline (no ToolContext given).');
  return ctx;
}

export function conciergeTools(ledger: BookingLedger) {
  const checkAvailability = tool({
    name: 'check_availability',
    description: 'Free table times on a date for a party size.',
    parameters: z.object({ date: DATE, party_size: z.number().int().min(1).max(12) }),
    strict: true,
    execute: async ({ date, party_size }) => {
      // Deterministic stand-in: larger parties get fewer slots.
      const slots = ['18:00', '18:30', '19:00', '19:30', '20:00', '20:30', '21:00'].filter(
        (_, i) => (i + party_size) % 3 !== 0,
      );
      return JSON.stringify({ date, party_size, free: slots });
    },
  });

  const bookTable = tool({
    name: 'book_table',
    description: 'Books a table. Check availability first.',
    parameters: z.object({
      date: DATE,
      time: z.string().regex(/^\d{2}:\d{2}$/, 'a time as HH:MM'),
      party_size: z.number().int().min(1).max(12),
      name: z.string().min(1).max(100),
    }),
    strict: true,
    execute: async ({ date, time, party_size, name }, runContext) => {
      const ctx = contextOf(runContext);
      const booking = ledger.book(ctx.idempotencyKey, {
        tenant: ctx.tenant,
        conversationId: ctx.conversationId,
        user: ctx.user,
        date,
        time,
        partySize: party_size,
        name,
      });
      return JSON.stringify({ confirmed: true, code: booking.code, date, time, party_size });
    },
  });

  return [checkAvailability, bookTable];
}
