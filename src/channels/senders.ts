import type { ChannelSender } from '../activities/delivery.js';
import type { ChannelsConfig } from '../config.js';
import type { Pool } from '../store/pool.js';
import { createCallbackSender } from './webhook/callback.js';
import { whatsappNumbers } from './whatsapp/numbers.js';
import { createWhatsAppSender } from './whatsapp/sender.js';

const WHATSAPP = 'whatsapp';

/** The key of a sender: a channel's outbound identity belongs to one tenant, never to a channel name. */
export function senderKey(tenant: string, channel: string): string {
  return `${encodeURIComponent(tenant)}:${encodeURIComponent(channel)}`;
}

/**
 * The worker's outbound senders by (tenant, channel), from config. Channels without one (the web
 * chat of the quick start) are answered through the API only: `?wait=true`, items or events.
 * A tenant's WhatsApp sender holds that tenant's numbers only, and sends from the number each
 * conversation came in on (remembered in Postgres, hence `pool`).
 */
export function buildSenders(config: ChannelsConfig, pool?: Pool): Map<string, ChannelSender> {
  const senders = new Map<string, ChannelSender>();
  const wa = config.whatsapp;
  if (wa) {
    const byTenant = new Map<string, { phoneNumberId: string; accessToken: string }[]>();
    for (const n of whatsappNumbers(wa)) {
      const accessToken = n.accessToken ?? wa.accessToken;
      if (!accessToken) continue; // an inbound-only number
      byTenant.set(n.tenant, [
        ...(byTenant.get(n.tenant) ?? []),
        { phoneNumberId: n.phoneNumberId, accessToken },
      ]);
    }
    for (const [tenant, numbers] of byTenant)
      senders.set(
        senderKey(tenant, WHATSAPP),
        createWhatsAppSender({ baseUrl: wa.apiBaseUrl, numbers, tenant, ...(pool ? { pool } : {}) }),
      );
  }
  const hook = config.webhook;
  if (hook?.callbackUrl) {
    for (const channel of hook.channels)
      senders.set(
        senderKey(hook.tenant, channel),
        createCallbackSender({ url: hook.callbackUrl, secret: hook.secret, channel }),
      );
  }
  return senders;
}
