import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fallbackText, parseChannelAction } from '../../src/channels/actions.js';
import { messagePayload, readReceiptPayload } from '../../src/channels/whatsapp/actions.js';
import { routeNumber, whatsappOwners } from '../../src/channels/whatsapp/numbers.js';
import { advances, parseStatuses } from '../../src/channels/whatsapp/statuses.js';
import { decideWindow, WINDOW_MS } from '../../src/channels/whatsapp/window.js';
import { loadConfig, type ConfigError, type WhatsAppConfig } from '../../src/config.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/whatsapp-out/${name}`, import.meta.url), 'utf8'));

describe('channel actions become the Cloud API bodies Meta documents', () => {
  const cases = fixture('messages.json') as {
    name: string;
    action: unknown;
    payload: Record<string, unknown>;
  }[];
  it.each(cases.map((c) => [c.name, c]))('%s', (_name, c) => {
    const action = parseChannelAction(c.action);
    expect(messagePayload(c.payload.to as string, action)).toEqual(c.payload);
  });

  it('a read receipt carries the typing indicator', () => {
    const f = fixture('read-receipt.json');
    expect(readReceiptPayload(f.messageId)).toEqual(f.payload);
  });

  it('a text stays a text without link previews', () => {
    expect(messagePayload('39333', { text: 'Ciao' })).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '39333',
      type: 'text',
      text: { preview_url: false, body: 'Ciao' },
    });
  });
});

describe('parseChannelAction refuses what Meta would refuse, naming the field', () => {
  it.each([
    [{ type: 'document', filename: 'a.pdf' }, 'action.url give exactly one of url or mediaId'],
    [{ type: 'document', url: 'https://x/a.pdf', mediaId: '1' }, 'give exactly one of url or mediaId'],
    [{ type: 'image', url: 'ftp://x/a.png' }, 'action.url must be an http(s) URL'],
    [{ type: 'location', latitude: 91, longitude: 0 }, 'action.latitude'],
    [
      { type: 'buttons', body: 'Pick', buttons: [1, 2, 3, 4].map((i) => ({ id: `b${i}`, title: `B${i}` })) },
      'action.buttons',
    ],
    [
      { type: 'buttons', body: 'Pick', buttons: [{ id: 'a', title: 'A title longer than twenty' }] },
      'action.buttons.0.title',
    ],
    [
      {
        type: 'list',
        body: 'Pick',
        button: 'Open',
        sections: [{ rows: Array.from({ length: 11 }, (_, i) => ({ id: `r${i}`, title: `Row ${i}` })) }],
      },
      'at most 10 rows',
    ],
    [
      {
        type: 'list',
        body: 'Pick',
        button: 'Open',
        sections: [{ rows: [{ id: 'a', title: 'A' }] }, { rows: [{ id: 'b', title: 'B' }] }],
      },
      'every section needs a title',
    ],
    [{ type: 'template', name: 'Hello World', language: 'en_US' }, 'action.name must be a template name'],
    [{ type: 'sticker', mediaId: '1' }, 'action.type'],
    [{ type: 'location', latitude: 1, longitude: 2, extra: true }, 'action'],
  ])('%j', (input, message) => {
    expect(() => parseChannelAction(input)).toThrow(message);
  });
});

describe('fallbackText: what a text-only channel shows', () => {
  it('keeps links and makes places, buttons and rows readable', () => {
    expect(
      fallbackText({
        type: 'document',
        url: 'https://t.example/menu.pdf',
        filename: 'menu.pdf',
        caption: 'Our menu',
      }),
    ).toBe('Our menu\nmenu.pdf: https://t.example/menu.pdf');
    expect(fallbackText({ type: 'location', latitude: 41.9, longitude: 12.47, name: 'Trattoria' })).toBe(
      'Trattoria\nhttps://www.google.com/maps/search/?api=1&query=41.9,12.47',
    );
    expect(
      fallbackText({
        type: 'buttons',
        body: 'When?',
        buttons: [
          { id: 'a', title: 'Today' },
          { id: 'b', title: 'Tomorrow' },
        ],
      }),
    ).toBe('When?\n1. Today\n2. Tomorrow');
  });
});

describe('decideWindow: the 24-hour customer service window', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);
  it.each([
    ['never heard from on WhatsApp: left to Meta', null, null, true],
    ['customer wrote an hour ago', ago(3600_000), null, true],
    ['customer wrote 23h59m ago', ago(WINDOW_MS - 60_000), null, true],
    ['customer wrote exactly 24h ago', ago(WINDOW_MS), null, false],
    ['customer wrote two days ago', ago(2 * WINDOW_MS), null, false],
    ['Meta refused (131047) after the last message', ago(3600_000), ago(60_000), false],
    ['Meta refused, then the customer wrote again', ago(60_000), ago(3600_000), true],
    ['Meta refused a conversation never heard from', null, ago(60_000), false],
  ] as const)('%s', (_name, lastInboundAt, windowClosedAt, open) => {
    const w = decideWindow({ lastInboundAt, windowClosedAt, now });
    expect(w.open).toBe(open);
    if (!w.open) expect(w.reason).toMatch(/outside the 24-hour customer service window/);
  });
});

describe('statuses never move backwards', () => {
  it.each([
    [null, 'sent', true],
    ['sent', 'delivered', true],
    ['delivered', 'read', true],
    ['read', 'delivered', false],
    ['delivered', 'sent', false],
    ['sent', 'failed', true],
    ['failed', 'delivered', true],
    ['delivered', 'failed', false],
    ['read', 'read', false],
  ] as const)('%s then %s: %s', (current, incoming, moves) => {
    expect(advances(current, incoming)).toBe(moves);
  });

  it("parses Meta's documented status objects and skips what it does not track", () => {
    const f = fixture('statuses.json');
    const parsed = parseStatuses([
      f.sent,
      f.read,
      f.failed131047,
      { id: 'x', status: 'deleted' },
      { nope: 1 },
    ]);
    expect(parsed.map((p) => [p.status, p.errorCode, p.errorTitle])).toEqual([
      ['sent', null, null],
      ['read', null, null],
      ['failed', 131047, 'Re-engagement message'],
    ]);
    expect(parsed[0]!.at?.toISOString()).toBe(new Date(1750263773 * 1000).toISOString());
  });
});

describe('WHATSAPP_NUMBERS', () => {
  const base = {
    WHATSAPP_APP_SECRET: 'app-secret-0123456789',
    WHATSAPP_VERIFY_TOKEN: 'verify-token-0123456789',
  };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('maps each number to its tenant, agent and token; the old variables are one more entry', () => {
    const config = loadConfig({
      ...base,
      WHATSAPP_ACCESS_TOKEN: 'shared-token',
      WHATSAPP_PHONE_NUMBER_ID: '1055',
      WHATSAPP_TENANT: 'acme',
      WHATSAPP_NUMBERS: JSON.stringify([
        { phoneNumberId: '2001', tenant: 'beta', agent: 'concierge', accessToken: 'beta-token' },
      ]),
    });
    const wa = config.channels.whatsapp!;
    expect(wa.numbers).toEqual([
      { phoneNumberId: '2001', tenant: 'beta', agent: 'concierge', accessToken: 'beta-token' },
      { phoneNumberId: '1055', tenant: 'acme' },
    ]);
    expect(routeNumber(wa, '2001')).toEqual({ kind: 'number', number: wa.numbers![0] });
    expect(routeNumber(wa, '9999')).toEqual({ kind: 'unknown', phoneNumberId: '9999' });
    expect(routeNumber(wa, undefined).kind).toBe('unknown');
    expect(whatsappOwners(wa)).toEqual(['beta', 'acme']);
  });

  it('the old single-number variables alone still work', () => {
    const wa = loadConfig({ ...base, WHATSAPP_ACCESS_TOKEN: 't', WHATSAPP_PHONE_NUMBER_ID: '1055' }).channels
      .whatsapp!;
    expect(routeNumber(wa, '1055')).toEqual({
      kind: 'number',
      number: { phoneNumberId: '1055', tenant: 'default' },
    });
    // A config built in code without `numbers` (and an inbound-only setup) keeps its one tenant.
    const inboundOnly: WhatsAppConfig = { ...wa, numbers: undefined, phoneNumberId: undefined };
    expect(routeNumber(inboundOnly, 'anything')).toEqual({ kind: 'single_tenant', tenant: 'default' });
  });

  it.each([
    ['[{"phoneNumberId": "2001"}]', 'WHATSAPP_NUMBERS[0].tenant'],
    [
      '[{"phoneNumberId": "abc", "tenant": "t"}]',
      'WHATSAPP_NUMBERS[0].phoneNumberId must be the numeric phone number id',
    ],
    ['[{"phoneNumberId": "1", "tenant": "t", "token": "x"}]', 'WHATSAPP_NUMBERS[0]'],
    ['[]', 'WHATSAPP_NUMBERS must list at least one number'],
    ['{"secret-looking": ', 'WHATSAPP_NUMBERS is not valid JSON'],
    [
      '[{"phoneNumberId": "1", "tenant": "a"}, {"phoneNumberId": "1", "tenant": "b"}]',
      'phone number id 1 twice',
    ],
  ])('%s -> %s', (value, message) => {
    const found = problems({ WHATSAPP_NUMBERS: value });
    expect(found.join('\n')).toContain(message);
    expect(found.join('\n')).not.toContain('secret-looking');
  });
});
