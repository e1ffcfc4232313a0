import type { ChannelAction } from '../actions.js';

/**
 * The Cloud API's send-message bodies (POST /{phone-number-id}/messages) for a text or a channel
 * action, as Meta documents them: test/fixtures/whatsapp-out/ holds the documented examples these
 * are checked against, each naming its page.
 */
export function messagePayload(
  to: string,
  message: { text: string } | ChannelAction,
): Record<string, unknown> {
  const common = { messaging_product: 'whatsapp', recipient_type: 'individual', to };
  if (!('type' in message))
    return { ...common, type: 'text', text: { preview_url: false, body: message.text } };
  const a = message;
  switch (a.type) {
    case 'image':
      return { ...common, type: 'image', image: { ...media(a), ...opt('caption', a.caption) } };
    case 'document':
      return {
        ...common,
        type: 'document',
        document: { ...media(a), ...opt('caption', a.caption), ...opt('filename', a.filename) },
      };
    case 'location':
      return {
        ...common,
        type: 'location',
        location: {
          latitude: a.latitude,
          longitude: a.longitude,
          ...opt('name', a.name),
          ...opt('address', a.address),
        },
      };
    case 'buttons':
      return {
        ...common,
        type: 'interactive',
        interactive: {
          type: 'button',
          ...(a.header ? { header: { type: 'text', text: a.header } } : {}),
          body: { text: a.body },
          ...(a.footer ? { footer: { text: a.footer } } : {}),
          action: { buttons: a.buttons.map((b) => ({ type: 'reply', reply: { id: b.id, title: b.title } })) },
        },
      };
    case 'list':
      return {
        ...common,
        type: 'interactive',
        interactive: {
          type: 'list',
          ...(a.header ? { header: { type: 'text', text: a.header } } : {}),
          body: { text: a.body },
          ...(a.footer ? { footer: { text: a.footer } } : {}),
          action: {
            button: a.button,
            sections: a.sections.map((s) => ({
              ...opt('title', s.title),
              rows: s.rows.map((r) => ({ id: r.id, title: r.title, ...opt('description', r.description) })),
            })),
          },
        },
      };
    case 'template':
      return {
        ...common,
        type: 'template',
        template: {
          name: a.name,
          language: { code: a.language },
          ...(a.components ? { components: a.components } : {}),
        },
      };
  }
}

/** Marks an inbound message read and shows the typing indicator (dismissed by the reply or after 25 s). */
export function readReceiptPayload(messageId: string): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    status: 'read',
    message_id: messageId,
    typing_indicator: { type: 'text' },
  };
}

function media(a: { url?: string | undefined; mediaId?: string | undefined }) {
  return a.mediaId !== undefined ? { id: a.mediaId } : { link: a.url };
}

function opt<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
