/**
 * Workflow ids are `conversation:{tenant}:{channel}:{externalId}`. Each part is percent-encoded so
 * that any channel id (phone numbers with '+', e-mail addresses, ids containing ':' or '/') is safe
 * and the id can be split back unambiguously.
 */
export interface ConversationKey {
  tenant: string;
  channel: string;
  externalId: string;
}

export function conversationWorkflowId(key: ConversationKey): string {
  return ['conversation', key.tenant, key.channel, key.externalId].map(encodeURIComponent).join(':');
}

export function parseConversationWorkflowId(id: string): ConversationKey | undefined {
  const parts = id.split(':');
  if (parts.length !== 4 || parts[0] !== 'conversation') return undefined;
  const [, tenant, channel, externalId] = parts.map(decodeURIComponent) as [string, string, string, string];
  return { tenant, channel, externalId };
}
