import { readFileSync } from 'node:fs';
import { toFile } from 'openai';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { expandMediaRefs, messageContent } from '../../src/media/parts.js';
import { MemoryMediaStore } from '../../src/media/store.js';
import { assertMatchesSchema } from './support/schemas.js';
import { expectApiError, startHarness } from './support/harness.js';

const media = (name: string) => readFileSync(new URL(`../fixtures/whatsapp/media/${name}`, import.meta.url));
const PHOTO = media('photo.png');
const PDF = media('booking.pdf');
const VOICE = media('voice.ogg');

let emulator: Emulator;
let client: OpenAI;
beforeAll(async () => {
  ({ emulator, client } = await startHarness());
});
afterAll(() => emulator.close());

const ask = (content: unknown[]) =>
  client.responses.create({
    model: 'gpt-5-mini',
    input: [
      { type: 'message', role: 'user', content: content as OpenAI.Responses.ResponseInputMessageContentList },
    ],
  });

describe('emulator: image and file content parts', () => {
  it('the model sees an image (type, size, hash) and a PDF (name, a phrase of its text)', async () => {
    const r = await ask([
      { type: 'input_image', detail: 'auto', image_url: `data:image/png;base64,${PHOTO.toString('base64')}` },
      {
        type: 'input_file',
        filename: 'booking.pdf',
        file_data: `data:application/pdf;base64,${PDF.toString('base64')}`,
      },
      { type: 'input_text', text: 'What is this?' },
    ]);
    expect(r.output_text).toContain(`[input_image image/png ${PHOTO.length} bytes sha256:`);
    expect(r.output_text).toContain(
      `[input_file booking.pdf application/pdf ${PDF.length} bytes text:"Booking for 2 on Friday"]`,
    );
    expect(r.output_text).toContain('What is this?');
  });

  it('the parts the runtime builds and expands match the spec schemas and are accepted', async () => {
    const store = new MemoryMediaStore();
    const key = { tenant: 't', channel: 'whatsapp' };
    await store.put(
      { ...key, mediaId: 'img' },
      {
        bytes: PHOTO,
        mimeType: 'image/png',
        sha256: 'x',
        filename: null,
        transcript: null,
        conversationId: 'c',
      },
    );
    await store.put(
      { ...key, mediaId: 'doc' },
      {
        bytes: PDF,
        mimeType: 'application/pdf',
        sha256: 'y',
        filename: 'b.pdf',
        transcript: null,
        conversationId: 'c',
      },
    );
    const stored = { status: 'stored' as const, byteSize: 1, transcript: null };
    const content = messageContent(
      {
        id: 'm',
        text: 'caption',
        receivedAt: '2026-01-01T00:00:00Z',
        attachments: [
          { kind: 'image', mediaId: 'img', resolved: { ...stored, mimeType: 'image/png' } },
          {
            kind: 'document',
            mediaId: 'doc',
            filename: 'b.pdf',
            resolved: { ...stored, mimeType: 'application/pdf' },
          },
        ],
      },
      'whatsapp',
    );
    const [item] = await expandMediaRefs([{ type: 'message', role: 'user', content }], 't', store);
    const parts = item!.content as unknown as Record<string, unknown>[];
    assertMatchesSchema('InputImageContent', parts[0]);
    assertMatchesSchema('InputFileContent', parts[1]);
    assertMatchesSchema('InputTextContent', parts[2]);
    const r = await ask(parts);
    expect(r.output_text).toContain('[input_image image/png');
    expect(r.output_text).toContain('[input_file b.pdf');
    // Another tenant's transcript cannot reach these bytes: the reference becomes a note.
    const [other] = await expandMediaRefs([{ type: 'message', role: 'user', content }], 'other', store);
    expect(JSON.stringify(other)).toContain('[media no longer available]');
    expect(JSON.stringify(other)).not.toContain(PHOTO.toString('base64'));
  });

  it('bad parts fail as the live API does, naming the parameter', async () => {
    await expectApiError(ask([{ type: 'input_image', image_url: 'data:image/png;base64,AAAA' }]), {
      status: 400,
      code: 'missing_required_parameter',
      param: 'input[0].content[0].detail',
    });
    await expectApiError(
      ask([
        {
          type: 'input_image',
          detail: 'auto',
          image_url: `data:application/pdf;base64,${PDF.toString('base64')}`,
        },
      ]),
      {
        status: 400,
        code: 'invalid_value',
        param: 'input[0].content[0].image_url',
        message: /unsupported MIME type 'application\/pdf'/,
      },
    );
    await expectApiError(
      ask([{ type: 'input_image', detail: 'huge', image_url: 'https://example.com/a.png' }]),
      {
        status: 400,
        code: 'invalid_value',
        param: 'input[0].content[0].detail',
      },
    );
    await expectApiError(ask([{ type: 'input_file', file_data: 'data:application/pdf;base64,AAAA' }]), {
      status: 400,
      code: 'missing_required_parameter',
      param: 'input[0].content[0].filename',
    });
    await expectApiError(ask([{ type: 'input_audio', input_audio: {} }]), {
      status: 400,
      code: 'invalid_value',
      param: 'input[0].content[0].type',
    });
  });
});

describe('emulator: POST /v1/audio/transcriptions', () => {
  const file = (bytes: Buffer, name: string) => toFile(bytes, name, { type: 'audio/ogg' });

  it('transcribes through the SDK: the marker text, or a description of the audio', async () => {
    const r = await client.audio.transcriptions.create({
      file: await file(VOICE, 'voice.ogg'),
      model: 'gpt-4o-mini-transcribe',
    });
    expect(r.text).toBe('I would like a table for two at eight');
    expect(r.usage).toMatchObject({ type: 'tokens' });
    const plain = await client.audio.transcriptions.create({
      file: await file(Buffer.from('OggS just noise'), 'noise.ogg'),
      model: 'whisper-1',
      response_format: 'text',
    });
    expect(String(plain)).toMatch(/^\(audio: 15 bytes, sha256:[0-9a-f]{12}\)/);
  });

  it('errors like the live API: format, model, empty file, response_format', async () => {
    await expectApiError(
      client.audio.transcriptions.create({ file: await file(VOICE, 'voice.amr'), model: 'whisper-1' }),
      {
        status: 400,
        message:
          "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
      },
    );
    await expectApiError(
      client.audio.transcriptions.create({ file: await file(VOICE, 'voice.ogg'), model: 'gpt-5-mini' }),
      {
        status: 404,
        code: 'model_not_found',
      },
    );
    await expectApiError(
      client.audio.transcriptions.create({ file: await file(Buffer.alloc(0), 'v.ogg'), model: 'whisper-1' }),
      {
        status: 400,
        param: 'file',
      },
    );
    await expectApiError(
      client.audio.transcriptions.create({
        file: await file(VOICE, 'v.ogg'),
        model: 'gpt-4o-transcribe',
        response_format: 'srt',
      }),
      { status: 400, param: 'response_format' },
    );
  });
});
