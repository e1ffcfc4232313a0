import { tool } from '@openai/agents';
import { z } from 'zod';
import { takeoverTool } from '../takeoverTools.js';

/**
 * The escalation tool of the systems Threadline replaces: the model calls it when the guest is
 * upset or asks for a person. Calling it puts the conversation in human mode once the turn's reply
 * is out (docs/approvals-and-takeover.md); the tool itself only tells the model what happens.
 */
export function escalationTools() {
  return [
    takeoverTool(
      tool({
        name: 'mark_customer_frustrated',
        description:
          'Hand the conversation to a human colleague: use it when the guest is frustrated, complains, or asks ' +
          'for a person. Then tell the guest a colleague will answer here shortly.',
        parameters: z.object({ reason: z.string().min(1).max(500) }),
        strict: true,
        execute: async () =>
          JSON.stringify({
            handedOver: true,
            note: 'A colleague takes over after this reply; tell the guest they will answer here shortly.',
          }),
      }),
    ),
  ];
}
