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
  /** The error body of an answer other than 200, for the log. */
  error?: string;
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
  const raw = await res.text();
  let body: { reply?: Reply; workflowId?: string } = {};
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    // Not JSON (a proxy's or the server's own error page): kept as the error text below.
  }
  return {
    id,
    httpStatus: res.status,
    ms: performance.now() - start,
    workflowId: body.workflowId,
    reply: body.reply,
    ...(res.status === 200 ? {} : { error: raw.slice(0, 300) }),
  };
}
