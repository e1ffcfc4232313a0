import { senderKey } from '../channels/senders.js';
import type { ChannelsConfig } from '../config.js';
import { createGraphMediaFetcher, type MediaFetcher } from './graph.js';

/** The worker's media downloaders by (tenant, channel), from config: WhatsApp's needs its access token. */
export function buildMediaFetchers(config: ChannelsConfig): Map<string, MediaFetcher> {
  const fetchers = new Map<string, MediaFetcher>();
  const wa = config.whatsapp;
  if (wa?.accessToken)
    fetchers.set(
      senderKey(wa.tenant, 'whatsapp'),
      createGraphMediaFetcher({ baseUrl: wa.apiBaseUrl, accessToken: wa.accessToken }),
    );
  return fetchers;
}
