import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tool } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry } from '../../src/agents/registry.js';
import type { ToolContext } from '../../src/agents/types.js';
import { senderKey } from '../../src/channels/senders.js';
import { hmacHex } from '../../src/channels/signature.js';
import { createWhatsAppSender } from '../../src/channels/whatsapp/sender.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createGraphMediaFetcher } from '../../src/media/graph.js';
import { DEFAULT_MEDIA_LIMITS } from '../../src/media/limits.js';
import { MEDIA_REF_PREFIX } from '../../src/media/parts.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { startApiEnv, type ApiEnv } from '../support/api.js';
import { startFakeGraph, type FakeGraph } from '../support/fakeGraph.js';
import { recordHistory } from '../workflows/harness.js';

/**
 * Every inbound WhatsApp type, from Meta's documented payload (test/fixtures/whatsapp) through the
 * webhook, the workflow, the media store and the emulator, to the reply the fake Graph API receives.
 */

const APP_SECRET = 'whatsapp-app-secret-for-inbound-tests';
const TOKEN = 'wa-inbound-token';
const PHONE_ID = '106540352242922';
const media = (name: string) => readFileSync(new URL(`../fixtures/whatsapp/media/${name}`, import.meta.url));
const PHOTO = media('photo.png');
const PDF = media('booking.pdf');
const VOICE = media('voice.ogg');
const STICKER = media('sticker.webp');
const sha12 = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 12);

const UNSUPPORTED_REPLY = 'I cannot open that kind of message; please write or send a photo.';
const MEDIA_REPLY = 'I could not open your file; please send a photo or PDF under 1 MB.';
const LIMIT = 1_000_000;

let graph: FakeGraph;
let emulator: Emulator;
let env: ApiEnv;
let base: string;
let burstBase: string;
let toolBase: string;
let chatBase: string;
const toolContexts: ToolContext[] = [];

beforeAll(async () => {
  graph = await startFakeGraph(TOKEN);
  graph.addMedia('1003383421387256', { bytes: PHOTO, mimeType: 'image/png' });
  graph.addMedia('1003383421387257', { bytes: PDF, mimeType: 'application/pdf' });
  graph.addMedia('1003383421387258', { bytes: VOICE, mimeType: 'audio/ogg; codecs=opus' });
  graph.addMedia('1003383421387260', { bytes: STICKER, mimeType: 'image/webp' });
  emulator = await startEmulator();
  const agent = (name: string, extra = {}) =>
    defineAgent({
      name,
      model: 'gpt-5-mini',
      instructions: 'You are a helpful assistant.',
      unsupportedMessageReply: UNSUPPORTED_REPLY,
      mediaProblemReply: MEDIA_REPLY,
      ...extra,
    });
  const key = senderKey('acme', 'whatsapp');
  env = await startApiEnv({
    openaiBaseUrl: emulator.baseUrl,
    senders: new Map([
      [key, createWhatsAppSender({ baseUrl: graph.baseUrl, phoneNumberId: PHONE_ID, accessToken: TOKEN })],
    ]),
    agents: createRegistry([
      agent('assistant'),
      agent('bursty', { burst: { quietMs: 1_500, maxWaitMs: 6_000 } }),
      agent('chatty', { strategy: 'stateless', provider: 'chat-completions' }),
      agent('toolish', {
        tools: [
          tool({
            name: 'note_location',
            description: 'Notes where the guest is.',
            parameters: z.object({}),
            execute: (_args, rc) => {
              toolContexts.push((rc as { context: ToolContext }).context);
              return 'noted';
            },
          }),
        ],
      }),
    ]),
    media: {
      fetchers: new Map([[key, createGraphMediaFetcher({ baseUrl: graph.baseUrl, accessToken: TOKEN })]]),
      limits: {
        ...DEFAULT_MEDIA_LIMITS,
        maxBytes: { image: LIMIT, document: LIMIT, audio: LIMIT },
        // A stalled download is given up after two short attempts (seconds, not the default minutes).
        downloadTimeoutMs: 1_500,
        maxAttempts: 2,
      },
    },
  });
  const channels = (agentName: string) => ({
    agent: agentName,
    channels: {
      whatsapp: {
        appSecret: APP_SECRET,
        verifyToken: 'verify-token-for-inbound',
        accessToken: TOKEN,
        phoneNumberId: PHONE_ID,
        apiBaseUrl: graph.baseUrl,
        tenant: 'acme',
      },
      webhook: undefined,
    },
  });
  base = await env.start(channels('assistant'));
  burstBase = await env.start(channels('bursty'));
  toolBase = await env.start(channels('toolish'));
  chatBase = await env.start(channels('chatty'));
});
afterAll(async () => {
  await env?.stop();
  await emulator?.close();
  await graph?.close();
});

type Body = { entry: { changes: { value: { messages: Record<string, unknown>[] } }[] }[] };

/** A fixture's body with its messages from `from` and ids made unique by `tag`. */
function fixture(name: string, from: string, tag = from): Body {
  const raw = JSON.parse(readFileSync(new URL(`../fixtures/whatsapp/${name}.json`, import.meta.url), 'utf8'));
  delete raw._source;
  for (const m of (raw as Body).entry[0]!.changes[0]!.value.messages) {
    m.from = from;
    m.id = `${String(m.id)}.${tag}`;
  }
  return raw as Body;
}

function withMessages(messages: Record<string, unknown>[]): Body {
  const body = fixture('text', 'x');
  body.entry[0]!.changes[0]!.value.messages = messages;
  return body;
}

async function post(body: Body, at = base) {
  const raw = JSON.stringify(body);
  const res = await fetch(`${at}/v1/webhooks/whatsapp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${hmacHex(APP_SECRET, raw)}`,
    },
    body: raw,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { received: number; duplicates: number; ignored: number };
}

/** The texts the fake Graph API received for `to`, once there are `count` of them. */
async function repliesTo(to: string, count = 1): Promise<string[]> {
  const texts = () =>
    graph.sends.filter((s) => s.body.to === to).map((s) => (s.body.text as { body: string }).body);
  await expect.poll(() => texts().length, { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(count);
  return texts();
}

async function modelCalls(from: string): Promise<number> {
  const { rows } = await env.db.pool.query(
    'SELECT count(*)::int AS n FROM model_calls WHERE conversation_id = $1',
    [conversationWorkflowId({ tenant: 'acme', channel: 'whatsapp', externalId: from })],
  );
  return rows[0].n;
}

/** The Responses API requests the emulator received whose input mentions `marker`. */
function requestsWith(marker: string): { input: Record<string, unknown>[] }[] {
  return emulator
    .requests()
    .filter((r) => r.path === '/v1/responses' && JSON.stringify(r.body ?? '').includes(marker))
    .map((r) => r.body as { input: Record<string, unknown>[] });
}

describe('WhatsApp inbound: every type gets its answer', () => {
  it('a photo: the model receives the bytes as input_image, the reply goes out; history and transcript hold a reference only', async () => {
    const from = '31600000001';
    expect(await post(fixture('image', from))).toEqual({ received: 1, duplicates: 0, ignored: 0 });
    const [reply] = await repliesTo(from);
    // The emulator's model saw the image: its MIME type, size and hash are those of the fixture.
    expect(reply).toContain(`[input_image image/png ${PHOTO.length} bytes sha256:${sha12(PHOTO)}]`);
    expect(reply).toContain('Here is my payment proof');
    const [request] = requestsWith('Here is my payment proof');
    const content = (request!.input.at(-1) as { content: { type: string; image_url?: string }[] }).content;
    expect(content.map((p) => p.type)).toEqual(['input_image', 'input_text']);
    expect(Buffer.from(content[0]!.image_url!.split(',')[1]!, 'base64').equals(PHOTO)).toBe(true);

    const workflowId = conversationWorkflowId({ tenant: 'acme', channel: 'whatsapp', externalId: from });
    const { rows: items } = await env.db.pool.query(
      `SELECT item FROM session_items WHERE session_id = $1 AND role = 'user'`,
      [workflowId],
    );
    const stored = JSON.stringify(items);
    expect(stored).toContain(`${MEDIA_REF_PREFIX}whatsapp/1003383421387256`);
    expect(stored).not.toContain(PHOTO.toString('base64'));
    const history = JSON.stringify(await env.client.workflow.getHandle(workflowId).fetchHistory());
    expect(history).not.toContain(PHOTO.toString('base64').slice(0, 40));
    const { rows: media } = await env.db.pool.query(
      `SELECT byte_size, sha256, conversation_id FROM media_objects WHERE tenant = 'acme' AND media_id = $1`,
      ['1003383421387256'],
    );
    expect(media).toEqual([
      {
        byte_size: PHOTO.length,
        sha256: createHash('sha256').update(PHOTO).digest('hex'),
        conversation_id: workflowId,
      },
    ]);

    // The server-side state expires: the recovery re-sends the history, the photo expanded again.
    emulator.expireResponse(
      (
        await env.db.pool.query('SELECT response_id FROM model_calls WHERE conversation_id = $1', [
          workflowId,
        ])
      ).rows[0].response_id,
    );
    const again = fixture('text', from, `${from}b`);
    (again.entry[0]!.changes[0]!.value.messages[0]!.text as { body: string }).body = 'Did you get it?';
    await post(again);
    await repliesTo(from, 2);
    const sent = requestsWith('Did you get it?').map((r) => JSON.stringify(r.input));
    expect(sent.some((s) => s.includes(PHOTO.toString('base64')))).toBe(true);
    expect(sent.some((s) => s.includes(MEDIA_REF_PREFIX))).toBe(false);

    // The same media id again (a redelivery under a new message id): read from the store.
    await post(fixture('image', from, `${from}c`));
    await repliesTo(from, 3);
    expect(graph.downloads.get('1003383421387256')).toBe(1);
  });

  it('a photo and a PDF to a chat-completions agent: the model receives them as image_url and file parts', async () => {
    const from = '31600000030';
    const doc = fixture('document', from);
    await post(fixture('image', from), chatBase);
    const [photoReply] = await repliesTo(from);
    expect(photoReply).toContain(`[input_image image/png ${PHOTO.length} bytes sha256:${sha12(PHOTO)}]`);
    await post(doc, chatBase);
    const replies = await repliesTo(from, 2);
    expect(replies[1]).toContain(`[input_file booking.pdf application/pdf ${PDF.length} bytes`);
    const chats = emulator
      .requests()
      .filter((r) => r.path === '/v1/chat/completions' && JSON.stringify(r.body).includes('"file_data"'));
    const user = (chats.at(-1)!.body as { messages: { role: string; content: unknown }[] }).messages.filter(
      (m) => m.role === 'user',
    );
    const [photo, pdf] = user.map((m) => m.content as Record<string, Record<string, string>>[]);
    expect(photo!.map((p) => p.type)).toEqual(['image_url', 'text']);
    expect(Buffer.from(photo![0]!.image_url!.url!.split(',')[1]!, 'base64').equals(PHOTO)).toBe(true);
    expect(pdf![0]!.file).toMatchObject({ filename: 'booking.pdf' });
    expect(Buffer.from(pdf![0]!.file!.file_data!.split(',')[1]!, 'base64').equals(PDF)).toBe(true);
  });

  it('a document: the model receives the PDF as input_file with its name', async () => {
    const from = '31600000002';
    await post(fixture('document', from));
    const [reply] = await repliesTo(from);
    expect(reply).toContain(
      `[input_file booking.pdf application/pdf ${PDF.length} bytes text:"Booking for 2 on Friday"]`,
    );
    expect(reply).toContain('The booking form');
  });

  it('a voice note: transcribed through the transcription endpoint, the model reads the transcript', async () => {
    const from = '31600000003';
    await post(fixture('audio', from));
    const [reply] = await repliesTo(from);
    expect(reply).toContain('[voice note, transcribed] I would like a table for two at eight');
    const transcriptions = emulator.requests().filter((r) => r.path === '/v1/audio/transcriptions');
    expect(transcriptions.length).toBeGreaterThanOrEqual(1);
    expect(transcriptions.every((r) => r.status === 200)).toBe(true);
  });

  it('a sticker: seen as an image', async () => {
    const from = '31600000004';
    await post(fixture('sticker', from));
    const [reply] = await repliesTo(from);
    expect(reply).toContain(`[input_image image/webp ${STICKER.length} bytes`);
  });

  it('a video: the configured reply, without a model call (history v4-wa-in-media)', async () => {
    const from = '31600000005';
    await post(fixture('video', from));
    expect(await repliesTo(from)).toEqual([UNSUPPORTED_REPLY]);
    expect(await modelCalls(from)).toBe(0);
    expect(graph.lookups.get('1003383421387259')).toBeUndefined();
    // Then a photo in the same conversation: media through recordTurnInput and the model.
    await post(fixture('image', from));
    const replies = await repliesTo(from, 2);
    expect(replies[1]).toContain('[input_image image/png');
    const handle = env.client.workflow.getHandle(
      conversationWorkflowId({ tenant: 'acme', channel: 'whatsapp', externalId: from }),
    );
    await recordHistory('v4-wa-in-media', handle);
  });

  it('unsupported and future types: the configured reply, never silence', async () => {
    for (const [name, from] of [
      ['unsupported', '31600000006'],
      ['future_type', '31600000007'],
    ] as const) {
      await post(fixture(name, from));
      expect(await repliesTo(from)).toEqual([UNSUPPORTED_REPLY]);
      expect(await modelCalls(from)).toBe(0);
    }
  });

  it('location, contacts, interactive and button replies become text the model answers', async () => {
    const cases = [
      ['location', '31600000008', '[location] 37.483307,-122.148981 Main Street Beach'],
      ['contacts', '31600000009', '[contact] Barbara J. Johnson, +1 (940) 555-1234'],
      ['interactive_button_reply', '31600000010', '[button] Cancel'],
      ['interactive_list_reply', '31600000011', '[list choice] Priority Mail Express (Next Day to 2 Days)'],
      ['button', '31600000012', '[button] Unsubscribe'],
      ['text', '31600000013', 'Does it come in another color?'],
    ] as const;
    await Promise.all(cases.map(([name, from]) => post(fixture(name, from))));
    for (const [, from, expected] of cases) {
      const [reply] = await repliesTo(from);
      expect(reply).toContain(`You said: "${expected}`);
    }
  });

  it('a reaction is recorded, not answered', async () => {
    const from = '31600000014';
    expect(await post(fixture('reaction', from))).toEqual({ received: 1, duplicates: 0, ignored: 0 });
    expect(await post(fixture('reaction', from))).toEqual({ received: 0, duplicates: 1, ignored: 0 });
    const { rows } = await env.db.pool.query(
      'SELECT emoji, reacted_to, conversation_id FROM inbound_reactions WHERE message_id = $1',
      [`wamid.REACTION1.${from}`],
    );
    expect(rows).toEqual([
      {
        emoji: '😀',
        reacted_to: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBRkFBMUJBMjIwNEFGRkE5QzgA',
        conversation_id: conversationWorkflowId({ tenant: 'acme', channel: 'whatsapp', externalId: from }),
      },
    ]);
    // A text after it is the conversation's first turn: the reaction started none.
    await post(fixture('text', from));
    expect(await repliesTo(from)).toHaveLength(1);
    const { rows: turns } = await env.db.pool.query(
      'SELECT turns FROM conversations WHERE external_id = $1',
      [from],
    );
    expect(turns).toEqual([{ turns: 1 }]);
    expect(graph.sends.filter((s) => s.body.to === from)).toHaveLength(1);
  });

  it('tools receive the inbound metadata (a location pin)', async () => {
    const from = '31600000015';
    const body = fixture('location', from);
    (body.entry[0]!.changes[0]!.value.messages[0]!.location as { name: string }).name = 'call note_location';
    await post(body, toolBase);
    await repliesTo(from);
    const seen = toolContexts.find((c) => c.externalId === from);
    expect(seen?.inbound).toEqual([
      {
        messageId: `wamid.LOC1.${from}`,
        metadata: expect.objectContaining({
          type: 'location',
          latitude: '37.483307',
          longitude: '-122.148981',
          address: '1 Hacker Way, Menlo Park, CA 94025',
        }),
      },
    ]);
  });

  it('a burst of text, photo, text reaches the model in that order', async () => {
    const from = '31600000016';
    const photo = fixture('image', from).entry[0]!.changes[0]!.value.messages[0]!;
    (photo.image as { caption?: string }).caption = undefined;
    const text = (id: string, body: string) => ({
      from,
      id,
      timestamp: '1749416383',
      type: 'text',
      text: { body },
    });
    await post(
      withMessages([
        text('wamid.B1', 'burst before the photo'),
        photo,
        text('wamid.B3', 'burst after the photo'),
      ]),
      burstBase,
    );
    await repliesTo(from);
    const [request] = requestsWith('burst before the photo');
    const parts = request!.input
      .filter((i) => i.role === 'user')
      .flatMap((i) => (i.content as { type: string; text?: string }[]).map((p) => p.text ?? p.type));
    expect(parts).toEqual(['burst before the photo', 'input_image', 'burst after the photo']);
    expect(await modelCalls(from)).toBe(1);
  });
});

describe('WhatsApp inbound and purge', () => {
  it("a purged conversation's media bytes and reactions are gone", async () => {
    const from = '31600000030';
    const body = fixture('image', from);
    (body.entry[0]!.changes[0]!.value.messages[0]!.image as { id: string }).id = 'purge-photo';
    graph.addMedia('purge-photo', { bytes: PHOTO, mimeType: 'image/png' });
    await post(body);
    await post(fixture('reaction', from));
    await repliesTo(from);
    const workflowId = conversationWorkflowId({ tenant: 'acme', channel: 'whatsapp', externalId: from });
    const left = async () => {
      const media = await env.db.pool.query('SELECT 1 FROM media_objects WHERE conversation_id = $1', [
        workflowId,
      ]);
      const reactions = await env.db.pool.query(
        'SELECT 1 FROM inbound_reactions WHERE conversation_id = $1',
        [workflowId],
      );
      return { media: media.rowCount, reactions: reactions.rowCount };
    };
    expect(await left()).toEqual({ media: 1, reactions: 1 });
    const key = await env.keyFor('acme');
    const res = await fetch(`${base}/v1/conversations/whatsapp/${from}?purge=true`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBeLessThan(300);
    await expect
      .poll(
        async () =>
          (
            await env.db.pool.query('SELECT status FROM purge_records WHERE conversation_id = $1', [
              workflowId,
            ])
          ).rows[0]?.status,
        { timeout: 30_000, interval: 200 },
      )
      .toBe('completed');
    expect(await left()).toEqual({ media: 0, reactions: 0 });
  });
});

describe('WhatsApp inbound media that cannot be received', () => {
  const cases: [string, string, (id: string) => void, string][] = [
    ['an id the Graph API does not know', '31600000020', () => {}, 'MediaUnavailable'],
    [
      'an expired download URL',
      '31600000021',
      (id) => (graph.addMedia(id, { bytes: PHOTO, mimeType: 'image/png' }), graph.expire(id)),
      'MediaUnavailable',
    ],
    [
      'a file over the size limit (declared small, larger as it arrives)',
      '31600000022',
      (id) =>
        graph.addMedia(id, { bytes: Buffer.alloc(LIMIT + 1, 1), mimeType: 'image/png', declaredSize: 10 }),
      'MediaTooLarge',
    ],
    [
      'a MIME type not allowed',
      '31600000023',
      (id) => graph.addMedia(id, { bytes: PHOTO, mimeType: 'image/heic' }),
      'MediaTypeNotAllowed',
    ],
    [
      'a download that never finishes (the media URL times out)',
      '31600000024',
      (id) => (graph.addMedia(id, { bytes: PHOTO, mimeType: 'image/png' }), graph.stall(id)),
      'MediaUnavailable',
    ],
  ];
  it.each(cases)(
    '%s: the configured reply, an error record, the message kept',
    async (_name, from, setup, type) => {
      const mediaId = `media-${from}`;
      setup(mediaId);
      const body = fixture('image', from);
      const image = body.entry[0]!.changes[0]!.value.messages[0]!.image as { id: string; caption?: string };
      image.id = mediaId;
      image.caption = undefined;
      await post(body);
      expect(await repliesTo(from)).toEqual([MEDIA_REPLY]);
      expect(await modelCalls(from)).toBe(0);
      const workflowId = conversationWorkflowId({ tenant: 'acme', channel: 'whatsapp', externalId: from });
      const { rows: errors } = await env.db.pool.query(
        `SELECT tenant, type, reason, details FROM error_records WHERE conversation_id = $1`,
        [workflowId],
      );
      expect(errors).toEqual([
        {
          tenant: 'acme',
          type,
          reason: expect.any(String),
          details: { messageId: `wamid.IMAGE1.${from}`, mediaId },
        },
      ]);
      const { rows: inbound } = await env.db.pool.query(
        `SELECT message_id, metadata->>'mediaId' AS media FROM inbound_messages WHERE conversation_id = $1`,
        [workflowId],
      );
      expect(inbound).toEqual([{ message_id: `wamid.IMAGE1.${from}`, media: mediaId }]);
      const { rows: note } = await env.db.pool.query(
        `SELECT item FROM session_items WHERE session_id = $1 AND role = 'user'`,
        [workflowId],
      );
      expect(JSON.stringify(note)).toContain('[image not received:');
    },
  );
});
