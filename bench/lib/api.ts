import { randomUUID } from 'node:crypto';
import type { Stack } from './stack.js';

export interface Reply {
  messageId: string;
  status: 'answered' | 'failed' | 'duplicate';
  turn: number;
  text: string | null;
  responseId: string | null;
}

export interface Sent {
  id: string;
  httpStatus: number;
  ms: number;
  workflowId: string | undefined;
  reply: Reply | undefined;
}

/** One synchronous turn through the API (`?wait=true`), timed from request to parsed reply. */
export async function sendMessage(
  stack: Pick<Stack, 'apiKey'>,
  apiUrl: string,
  conversationId: string,
  text: string,
  id: string = randomUUID(),
): Promise<Sent> {
  const start = performance.now();
  const res = await fetch(
    `${apiUrl}/v1/conversations/web/${encodeURIComponent(conversationId)}/messages?wait=true`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, text }),
    },
  );
  const body = (await res.json()) as { reply?: Reply; workflowId?: string };
  return {
    id,
    httpStatus: res.status,
    ms: performance.now() - start,
    workflowId: body.workflowId,
    reply: body.reply,
  };
}
