import { messageContent } from '../../media/parts.js';
import { defineAgent, instructionsFromFile } from '../define.js';
import type { AgentDefinition, ContextualizeHook } from '../types.js';
import { escalationTools } from './escalation.js';
import { BookingLedger, conciergeTools, TRATTORIA, type ConciergePlace } from './tools.js';

/** Shared by every turn in this process; tests inspect it to count side effects. */
export const conciergeLedger = new BookingLedger();

/**
 * Tells the model the guest's local date and time. `ctx.now` is workflow time, so a replayed or
 * retried turn builds exactly the same input.
 */
export const withLocalTime: ContextualizeHook = (messages, ctx) => {
  const local = new Intl.DateTimeFormat('en-GB', {
    timeZone: ctx.timeZone,
    dateStyle: 'full',
    timeStyle: 'short',
  }).format(new Date(ctx.now));
  return [
    {
      type: 'message',
      role: 'developer',
      content: [{ type: 'input_text', text: `Local time: ${local} (${ctx.timeZone}).` }],
    },
    ...messages.map((m) => ({
      type: 'message' as const,
      role: 'user' as const,
      content: messageContent(m, ctx.channel),
    })),
  ];
};

export function conciergeAgent(
  model: string,
  ledger = conciergeLedger,
  place: ConciergePlace = TRATTORIA,
): AgentDefinition {
  return defineAgent({
    name: 'concierge',
    model,
    instructions: instructionsFromFile(new URL('./instructions.txt', import.meta.url)),
    tools: [...conciergeTools(ledger, place), ...escalationTools()],
    toolPolicies: { book_table: { timeoutMs: 15_000, maxAttempts: 5 } },
    modelSettings: { store: true, maxOutputTokens: 800 },
    timeZone: 'Europe/Rome',
    apologyText: 'Mi dispiace: something went wrong on our side. Please write again in a moment.',
    burst: { quietMs: 1_500, maxWaitMs: 8_000 },
    maxToolRounds: 4,
    contextualize: withLocalTime,
  });
}
