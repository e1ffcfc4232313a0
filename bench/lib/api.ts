import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
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
  /** 503 `message_not_taken` answers retried after their Retry-After, as the API asks a client to. */
  retries: number;
}

/** A client that follows the API's contract retries a 503 with the same id; after this many, it gives up. */
const MAX_RETRIES = 10;

/** One synchronous turn through the API (`?wait=true`), timed from request to parsed reply. */
export async function sendMessage(
  stack: Pick<Stack, 'apiKey'>,
  apiUrl: string,
  conversationId: string,
  text: string,
  id: string = randomUUID(),
): Promise<Sent> {
  const start = performance.now();
  const url = new URL(
    `${apiUrl}/v1/conversations/web/${encodeURIComponent(conversationId)}/messages?wait=true`,
  );
  let res = await post(url, stack.apiKey, JSON.stringify({ id, text }));
  let retries = 0;
  while (res.status === 503 && retries < MAX_RETRIES) {
    // The service was too busy to take the message: the same id again after Retry-After is safe.
    await new Promise((r) => setTimeout(r, Number(res.retryAfter ?? 1) * 1000));
    retries += 1;
    res = await post(url, stack.apiKey, JSON.stringify({ id, text }));
  }
  const raw = res.body;
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
    retries,
    ...(res.status === 200 ? {} : { error: raw.slice(0, 300) }),
  };
}

/**
 * Node's own HTTP client, not fetch: fetch (undici) gives up on a connection after 10 s and on an
 * answer's headers after 300 s, and 1,000 synchronous turns at once on 2 cores pass both, so the
 * load generator, not Threadline, would drop the messages. No client timeouts: every turn is waited
 * for. A socket per request (no keep-alive): a reused socket the server has just timed out would
 * fail the request for a reason that is not Threadline's.
 */
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

function post(
  url: URL,
  key: string,
  body: string,
): Promise<{ status: number; body: string; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            retryAfter: res.headers['retry-after'],
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
