import { tool } from '@openai/agents';
import { defineAgent, defineConfig, type ToolContext } from 'threadline';
import { z } from 'zod';

/**
 * The Seaside Hotel's front desk: one agent, two tools. `threadline dev` loads this file; each
 * tool runs as a Temporal activity, retried on failure, with the conversation's ToolContext.
 */

const ROOMS: Record<string, { rate: number; sleeps: number }> = {
  single: { rate: 90, sleeps: 1 },
  double: { rate: 140, sleeps: 2 },
  suite: { rate: 260, sleeps: 4 },
};

// Stand-in for the hotel's booking system: one reservation per idempotency key, so a retried
// activity does not book twice (a real system takes the key as its own idempotency key).
const reservations = new Map<string, string>();

const checkRooms = tool({
  name: 'check_rooms',
  description: 'Rooms free on a night for a number of guests, with the nightly rate in euros.',
  parameters: z.object({ night: z.string().describe('YYYY-MM-DD'), guests: z.number().int().min(1).max(8) }),
  strict: true,
  execute: async ({ night, guests }) => {
    const free = Object.entries(ROOMS)
      .filter(([, room]) => room.sleeps >= guests)
      .map(([type, room]) => ({ type, rate_eur: room.rate }));
    return JSON.stringify({ night, guests, free });
  },
});

const bookRoom = tool({
  name: 'book_room',
  description: 'Books a room for one night. Check rooms first.',
  parameters: z.object({
    night: z.string().describe('YYYY-MM-DD'),
    room: z.enum(['single', 'double', 'suite']),
    guest_name: z.string().min(1).max(100),
  }),
  strict: true,
  execute: async ({ night, room, guest_name }, runContext) => {
    const ctx = runContext?.context as ToolContext;
    let code = reservations.get(ctx.idempotencyKey);
    if (!code) {
      code = `SEA-${reservations.size + 101}`;
      reservations.set(ctx.idempotencyKey, code);
    }
    return JSON.stringify({ confirmation: code, night, room, guest_name });
  },
});

export default defineConfig({
  agents: [
    defineAgent({
      name: 'front-desk',
      model: 'gpt-5-mini',
      instructions:
        'You are the front desk of the Seaside Hotel. Check which rooms are free before booking, ' +
        'quote the nightly rate, and give the confirmation code after booking. Be brief.',
      tools: [checkRooms, bookRoom],
      timeZone: 'Europe/Lisbon',
    }),
  ],
});
