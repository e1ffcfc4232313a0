import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseWebhook, webhookBody, type ParsedWebhook } from '../../src/channels/whatsapp/payload.js';

function fixture(name: string): ParsedWebhook {
  const raw = JSON.parse(readFileSync(new URL(`../fixtures/whatsapp/${name}.json`, import.meta.url), 'utf8'));
  expect(raw._source, `${name}.json names its source`).toMatch(
    /^(https:\/\/developers\.facebook\.com\/|Constructed)/,
  );
  return parseWebhook(webhookBody.parse(raw));
}

const one = (name: string) => {
  const parsed = fixture(name);
  expect(parsed.messages).toHaveLength(1);
  return parsed.messages[0]!;
};

describe('WhatsApp inbound parsing (Meta payloads in test/fixtures/whatsapp)', () => {
  it('text: the body, the sender, the profile name and the send time', () => {
    expect(one('text')).toMatchObject({
      id: 'wamid.TEXT1',
      from: '16505551234',
      type: 'text',
      text: 'Does it come in another color?',
      attachment: undefined,
      name: 'Sheena Nelson',
      phoneNumberId: '106540352242922',
      sentAt: '2025-06-08T20:59:43.000Z',
      metadata: { type: 'text' },
    });
  });

  it('image: a media reference and the caption as text, never bytes', () => {
    expect(one('image')).toMatchObject({
      text: 'Here is my payment proof',
      attachment: { kind: 'image', mediaId: '1003383421387256', mimeType: 'image/png' },
      metadata: { type: 'image', mediaId: '1003383421387256', mimeType: 'image/png' },
    });
  });

  it('document: the filename travels with the reference', () => {
    expect(one('document')).toMatchObject({
      text: 'The booking form',
      attachment: { kind: 'document', mediaId: '1003383421387257', filename: 'booking.pdf' },
    });
  });

  it('audio: a voice note is marked as one', () => {
    expect(one('audio')).toMatchObject({
      text: '',
      attachment: {
        kind: 'audio',
        mediaId: '1003383421387258',
        voice: true,
        mimeType: 'audio/ogg; codecs=opus',
      },
      metadata: { voice: 'true' },
    });
  });

  it('video and sticker are references too', () => {
    expect(one('video').attachment).toMatchObject({ kind: 'video', mediaId: '1003383421387259' });
    expect(one('sticker').attachment).toEqual({
      kind: 'sticker',
      mediaId: '1003383421387260',
      mimeType: 'image/webp',
      sha256: 'fixture',
    });
  });

  it('location: text the model can use, coordinates for tools', () => {
    const m = one('location');
    expect(m.text).toBe(
      '[location] 37.483307,-122.148981 Main Street Beach, 1 Hacker Way, Menlo Park, CA 94025, https://www.meta.com',
    );
    expect(m.metadata).toMatchObject({
      latitude: '37.483307',
      longitude: '-122.148981',
      locationName: 'Main Street Beach',
      address: '1 Hacker Way, Menlo Park, CA 94025',
    });
  });

  it('contacts: name, phone, e-mail and company', () => {
    const m = one('contacts');
    expect(m.text).toBe('[contact] Barbara J. Johnson, +1 (940) 555-1234, bjohnson@example.com, Lucky Shrub');
    expect(m.metadata).toMatchObject({
      contactCount: '1',
      contactName: 'Barbara J. Johnson',
      contactPhone: '+1 (940) 555-1234',
      contactWaId: '19405551234',
    });
  });

  it('interactive replies: the title for the model, the id for tools, the message replied to', () => {
    const button = one('interactive_button_reply');
    expect(button.text).toBe('[button] Cancel');
    expect(button.metadata).toMatchObject({
      replyType: 'button_reply',
      replyId: 'cancel-button',
      replyTitle: 'Cancel',
      replyTo: 'wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=',
    });
    const list = one('interactive_list_reply');
    expect(list.text).toBe('[list choice] Priority Mail Express (Next Day to 2 Days)');
    expect(list.metadata).toMatchObject({ replyType: 'list_reply', replyId: 'priority_express' });
  });

  it('button (a template quick reply): label and payload', () => {
    const m = one('button');
    expect(m.text).toBe('[button] Unsubscribe');
    expect(m.metadata).toMatchObject({ buttonText: 'Unsubscribe', buttonPayload: 'Unsubscribe' });
  });

  it('reaction: recorded apart, not a message to answer', () => {
    const parsed = fixture('reaction');
    expect(parsed.messages).toEqual([]);
    expect(parsed.reactions).toEqual([
      {
        id: 'wamid.REACTION1',
        from: '16505551234',
        messageId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBRkFBMUJBMjIwNEFGRkE5QzgA',
        emoji: '😀',
        phoneNumberId: '106540352242922',
        sentAt: '2025-06-08T20:59:43.000Z',
      },
    ]);
  });

  it('unsupported and types Meta adds later are messages with an unsupported marker', () => {
    const u = one('unsupported');
    expect(u.attachment).toEqual({ kind: 'unsupported', type: 'unsupported' });
    expect(u.metadata).toMatchObject({ type: 'unsupported', errorCode: '131051' });
    const future = one('future_type');
    expect(future.attachment).toEqual({ kind: 'unsupported', type: 'hologram' });
    expect(future.text).toBe('');
  });

  it('a known type with its content missing is answered as unsupported, not dropped', () => {
    const parsed = parseWebhook(
      webhookBody.parse({
        object: 'whatsapp_business_account',
        entry: [
          {
            changes: [
              {
                value: {
                  messages: [
                    { id: 'a', from: '1', type: 'image', image: {} },
                    { id: 'b', from: '1', type: 'text', text: { body: '   ' } },
                    { id: 'c', from: '1', type: 'location', location: { latitude: 'north' } },
                  ],
                },
              },
            ],
          },
        ],
      }),
    );
    expect(parsed.messages.map((m) => m.attachment)).toEqual([
      { kind: 'unsupported', type: 'image' },
      { kind: 'unsupported', type: 'text' },
      { kind: 'unsupported', type: 'location' },
    ]);
  });

  it('metadata values are cut at 512 characters', () => {
    const parsed = parseWebhook(
      webhookBody.parse({
        object: 'whatsapp_business_account',
        entry: [
          {
            changes: [
              {
                value: {
                  messages: [
                    { id: 'a', from: '1', type: 'button', button: { text: 'x'.repeat(600), payload: 'p' } },
                  ],
                },
              },
            ],
          },
        ],
      }),
    );
    expect(parsed.messages[0]!.metadata.buttonText).toHaveLength(512);
  });
});
