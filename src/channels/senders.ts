import type { ChannelSender } from '../activities/delivery.js';
import type { ChannelsConfig } from '../config.js';
import { createCallbackSender } from './webhook/callback.js';
const WHATSAPP = 'whatsapp';
import { createWhatsAppSender } from './whatsapp/sender.js';

/**
 * The worker's outbound senders by channel name, from config. Channels without one (the web chat
 * of the quick start) are answered through the API only: `?wait=true`, items or events.
 */
export function buildSenders(config: ChannelsConfig): Map<string, ChannelSender> {
  const senders = new Map<string, ChannelSender>();
  const wa = config.whatsapp;
  if (wa?.accessToken && wa.phoneNumberId) {
    senders.set(
      WHATSAPP,
      createWhatsAppSender({
        baseUrl: wa.apiBaseUrl,
        phoneNumberId: wa.phoneNumberId,
        accessToken: wa.accessToken,
      }),
    );
  }
  const hook = config.webhook;
  if (hook?.callbackUrl) {
    for (const channel of hook.channels)
      senders.set(channel, createCallbackSender({ url: hook.callbackUrl, secret: hook.secret, channel }));
  }
  return senders;
}
