import OpenAI from 'openai';
import type { AssistantsMessage, AssistantsRunStep } from '../convert.js';

/**
 * Reads Assistants threads from an Assistants-compatible endpoint (the emulator, a user's legacy
 * proxy). Raw list calls rather than the SDK's deprecated `beta.threads`: the objects are stored as
 * the API sent them.
 */

interface ListPage<T> {
  data: T[];
  has_more: boolean;
  last_id: string | null;
}

/** Every page of a list endpoint, oldest first. `onPage` lets the caller heartbeat. */
export async function listAll<T>(client: OpenAI, path: string, onPage: () => void = () => {}): Promise<T[]> {
  const all: T[] = [];
  let after: string | null = null;
  for (;;) {
    const page: ListPage<T> = await client.get(path, {
      query: { limit: 100, order: 'asc', ...(after ? { after } : {}) },
    });
    onPage();
    all.push(...page.data);
    if (!page.has_more || !page.last_id) return all;
    after = page.last_id;
  }
}

export async function fetchThread(
  client: OpenAI,
  threadId: string,
  options: { toolCalls: boolean; onPage?: () => void },
): Promise<{ messages: AssistantsMessage[]; steps: AssistantsRunStep[] }> {
  const base = `/threads/${encodeURIComponent(threadId)}`;
  const messages = await listAll<AssistantsMessage>(client, `${base}/messages`, options.onPage);
  const steps: AssistantsRunStep[] = [];
  if (options.toolCalls) {
    const runs = [...new Set(messages.map((m) => m.run_id).filter((r): r is string => !!r))];
    for (const run of runs) {
      steps.push(
        ...(await listAll<AssistantsRunStep>(
          client,
          `${base}/runs/${encodeURIComponent(run)}/steps`,
          options.onPage,
        )),
      );
    }
  }
  return { messages, steps };
}

/**
 * The real API cannot list threads; the emulator (and proxies that copy it) can, at
 * `GET /_emulator/threads` beside `/v1`. Used when no mapping or thread ids are given.
 */
export async function listEmulatorThreads(client: OpenAI, onPage: () => void = () => {}): Promise<string[]> {
  const origin = new URL(client.baseURL).origin;
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const url = new URL('/_emulator/threads', origin);
    url.searchParams.set('limit', '100');
    if (after) url.searchParams.set('after', after);
    const res = await fetch(url);
    if (!res.ok) {
      throw new Error(
        `${url.origin} cannot list threads (GET /_emulator/threads answered ${res.status}): give thread ids or a mapping file`,
      );
    }
    const page = (await res.json()) as ListPage<{ id: string }>;
    onPage();
    ids.push(...page.data.map((t) => t.id));
    if (!page.has_more || !page.last_id) return ids;
    after = page.last_id;
  }
}

/**
 * A client for a migration source. The worker's key goes only to the configured OpenAI endpoint;
 * another endpoint gets the key the admin passed for it, or no Authorization header at all.
 */
export function clientFor(base: OpenAI, baseUrl: string | undefined, apiKey?: string): OpenAI {
  if (!baseUrl || (sameEndpoint(baseUrl, base.baseURL) && apiKey === undefined)) return base;
  return new OpenAI({
    apiKey: apiKey ?? 'none',
    baseURL: baseUrl,
    maxRetries: 0,
    timeout: 90_000,
    ...(apiKey === undefined ? { defaultHeaders: { authorization: null } } : {}),
  });
}

/** Same origin and path, ignoring a trailing slash. */
export function sameEndpoint(a: string, b: string): boolean {
  const norm = (u: string) => {
    try {
      const url = new URL(u);
      return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    } catch {
      return u;
    }
  };
  return norm(a) === norm(b);
}
