import { APIError, type OpenAI } from 'openai';
import type { ChainLink } from '../convert.js';
import { listAll } from './assistantsApi.js';

export interface WalkedChain {
  /** Newest first. */
  links: ChainLink[];
  /** The first response that could not be read, and why; null when the chain reached its start. */
  brokenAt: { responseId: string; reason: string } | null;
}

interface RawResponse {
  id: string;
  created_at?: number;
  previous_response_id?: string | null;
  output?: Record<string, unknown>[];
}

/**
 * Walks a chain back from its last response with retrieve + input_items (each response lists only
 * its own input). A missing ancestor (expired after 30 days, deleted, `store: false`) ends the walk
 * there: what is newer is kept and the break is reported. A missing *last* response is an error.
 */
export async function walkChain(
  client: OpenAI,
  lastResponseId: string,
  onStep: () => void = () => {},
): Promise<WalkedChain> {
  const links: ChainLink[] = [];
  const seen = new Set<string>();
  let id: string | null = lastResponseId;
  while (id) {
    if (seen.has(id))
      return { links, brokenAt: { responseId: id, reason: 'the chain loops back on itself' } };
    seen.add(id);
    let response: RawResponse;
    try {
      response = await client.get(`/responses/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof APIError && err.status === 404 && links.length > 0) {
        return { links, brokenAt: { responseId: id, reason: `not found (${err.message})` } };
      }
      throw err;
    }
    const input = await listAll<Record<string, unknown>>(
      client,
      `/responses/${encodeURIComponent(id)}/input_items`,
      onStep,
    );
    links.push({
      responseId: id,
      createdAt: response.created_at ?? null,
      input,
      output: response.output ?? [],
    });
    onStep();
    id = response.previous_response_id ?? null;
  }
  return { links, brokenAt: null };
}
