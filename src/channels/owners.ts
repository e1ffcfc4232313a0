import type { ChannelsConfig } from '../config.js';

/**
 * Which tenant owns each channel that has an integration: WhatsApp belongs to WHATSAPP_TENANT, the
 * signed-webhook channels to WEBHOOK_TENANT. The owner's keys alone may message these channels, and
 * only the owner's conversations are sent out through them.
 */
export function channelOwners(config: ChannelsConfig | undefined): Map<string, string> {
  const owners = new Map<string, string>();
  if (config?.whatsapp) owners.set('whatsapp', config.whatsapp.tenant);
  for (const channel of config?.webhook?.channels ?? []) owners.set(channel, config!.webhook!.tenant);
  return owners;
}
