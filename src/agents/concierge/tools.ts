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

/** Where the restaurant's menu and door are; a deployment passes its own. */
export interface ConciergePlace {
  menuUrl: string;
  latitude: number;
  longitude: number;
  name: string;
  address: string;
}

export const TRATTORIA: ConciergePlace = {
  menuUrl: 'https://threadline.example/trattoria/menu.pdf',
  latitude: 41.8986,
  longitude: 12.4769,
  name: 'Trattoria Threadline',
  address: 'Piazza Navona 1, 00186 Roma',
};

export function conciergeTools(ledger: BookingLedger, place: ConciergePlace = TRATTORIA) {
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

  // Channel actions: the tool sends the file or the pin with ctx.send() and tells the model it did,
  // so the model's reply can refer to it. The runtime delivers them before the reply text.
  const sendMenu = tool({
    name: 'send_menu',
    description: "Sends the restaurant's menu to the guest as a PDF document.",
    parameters: z.object({}),
    strict: true,
    execute: async (_args, runContext) => {
      const ctx = contextOf(runContext);
      await ctx.send({
        type: 'document',
        url: place.menuUrl,
        filename: 'menu.pdf',
        caption: `${place.name}: our menu`,
      });
      return JSON.stringify({ sent: 'menu.pdf' });
    },
  });

  const sendLocation = tool({
    name: 'send_location',
    description: "Sends the restaurant's location to the guest as a map pin.",
    parameters: z.object({}),
    strict: true,
    execute: async (_args, runContext) => {
      const ctx = contextOf(runContext);
      await ctx.send({
        type: 'location',
        latitude: place.latitude,
        longitude: place.longitude,
        name: place.name,
        address: place.address,
      });
      return JSON.stringify({ sent: 'location', address: place.address });
    },
  });

  return [checkAvailability, bookTable, sendMenu, sendLocation];
}
