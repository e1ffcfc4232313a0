import type { ChannelsConfig } from '../config.js';
import { whatsappOwners } from './whatsapp/numbers.js';

/**
 * Which tenants own each channel that has an integration: WhatsApp belongs to the tenants of its
 * numbers (WHATSAPP_NUMBERS, or WHATSAPP_TENANT), the signed-webhook channels to WEBHOOK_TENANT.
 * The owners' keys alone may message these channels, and only their conversations are sent out.
 */
export function channelOwners(config: ChannelsConfig | undefined): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  if (config?.whatsapp) owners.set('whatsapp', whatsappOwners(config.whatsapp));
  for (const channel of config?.webhook?.channels ?? []) owners.set(channel, [config!.webhook!.tenant]);
  return owners;
}
