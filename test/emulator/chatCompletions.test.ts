import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { assertMatchesSchema } from './support/schemas.js';

let emulator: Emulator;
let openai: OpenAI;
beforeAll(async () => {
  emulator = await startEmulator();
  openai = new OpenAI({ baseURL: emulator.baseUrl, apiKey: 'test', maxRetries: 0 });
});
afterAll(async () => emulator?.close());

const tools: OpenAI.Chat.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
    },
  },
];

async function raw(body: unknown) {
  const res = await fetch(`${emulator.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer test', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    requestId: res.headers.get('x-request-id'),
  };
}

describe('POST /v1/chat/completions', () => {
  it('answers with the scripted model, in the official shape', async () => {
    const { status, body, requestId } = await raw({
      model: 'gpt-5-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'You said: "hi"' },
        { role: 'user', content: 'again' },
      ],
    });
    expect(status).toBe(200);
    expect(requestId).toMatch(/^req_/);
    assertMatchesSchema('CreateChatCompletionResponse', body);
    const completion = body as unknown as OpenAI.Chat.ChatCompletion;
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.choices[0]!.message.content).toBe(
      'You said: "again" [context: 2 user messages; first: "hi"; instructions: yes]',
    );
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it('calls tools as tool_calls and answers after the tool messages', async () => {
    const first = await openai.chat.completions.create({
      model: 'm',
      tools,
      messages: [{ role: 'user', content: 'call get_time {"zone":"UTC"}' }],
    });
    const calls = first.choices[0]!.message.tool_calls!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(calls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        type: 'function',
        function: { name: 'get_time', arguments: '{"zone":"UTC"}' },
      },
    ]);
    const second = await openai.chat.completions.create({
      model: 'm',
      tools,
      messages: [
        { role: 'user', content: 'call get_time {"zone":"UTC"}' },
        { role: 'assistant', content: null, tool_calls: calls },
        { role: 'tool', tool_call_id: calls[0]!.id, content: '12:00' },
      ],
    });
    expect(second.choices[0]!.message.content).toBe('Tool results: get_time -> 12:00.');
  });

  it('the model sees image_url and file parts (type, size, hash; name, a phrase of its text)', async () => {
    const photo = readFileSync(new URL('../fixtures/whatsapp/media/photo.png', import.meta.url));
    const pdf = readFileSync(new URL('../fixtures/whatsapp/media/booking.pdf', import.meta.url));
    const completion = await openai.chat.completions.create({
      model: 'gpt-5-mini',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: `data:image/png;base64,${photo.toString('base64')}` } },
            {
              type: 'file',
              file: {
                filename: 'booking.pdf',
                file_data: `data:application/pdf;base64,${pdf.toString('base64')}`,
              },
            },
            { type: 'text', text: 'What is this?' },
          ],
        },
      ],
    });
    const text = completion.choices[0]!.message.content!;
    expect(text).toContain(`[input_image image/png ${photo.length} bytes sha256:`);
    expect(text).toContain(
      `[input_file booking.pdf application/pdf ${pdf.length} bytes text:"Booking for 2 on Friday"]`,
    );
    expect(text).toContain('What is this?');
  });

  it('bad content parts fail as the live API does, naming the parameter', async () => {
    const ask = async (part: unknown) =>
      (await raw({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, part] }] }))
        .body.error;
    expect(await ask({ type: 'input_image', image_url: 'data:image/png;base64,AAAA' })).toMatchObject({
      code: 'invalid_value',
      param: 'messages[0].content[1].type',
    });
    expect(await ask({ type: 'image_url', image_url: 'data:image/png;base64,AAAA' })).toMatchObject({
      code: 'invalid_type',
      param: 'messages[0].content[1].image_url',
    });
    expect(
      await ask({ type: 'image_url', image_url: { url: 'data:application/pdf;base64,AAAA' } }),
    ).toMatchObject({
      code: 'invalid_value',
      param: 'messages[0].content[1].image_url.url',
      message: expect.stringMatching(/unsupported MIME type 'application\/pdf'/),
    });
    expect(
      await ask({ type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'original' } }),
    ).toMatchObject({ code: 'invalid_value', param: 'messages[0].content[1].image_url.detail' });
    expect(await ask({ type: 'file', file: { filename: 'a.pdf', file_data: 'JVBERi0=' } })).toMatchObject({
      code: 'invalid_value',
      param: 'messages[0].content[1].file.file_data',
    });
    expect(await ask({ type: 'file', file: {} })).toMatchObject({
      code: 'missing_required_parameter',
      param: 'messages[0].content[1].file',
    });
    // System messages take text only.
    const system = await raw({
      model: 'm',
      messages: [
        { role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://e.com/a.png' } }] },
      ],
    });
    expect(system.body.error).toMatchObject({ code: 'invalid_value', param: 'messages[0].content[0].type' });
  });

  it('rejects what the live API rejects, in the error envelope', async () => {
    const unanswered = await raw({
      model: 'm',
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
      ],
    });
    expect(unanswered.status).toBe(400);
    expect((unanswered.body.error as { message: string }).message).toContain(
      'did not have response messages: call_1',
    );
    assertMatchesSchema('ErrorResponse', unanswered.body);
    expect((await raw({ model: 'm' })).body.error).toMatchObject({
      code: 'missing_required_parameter',
      param: 'messages',
    });
    expect((await raw({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true })).status).toBe(
      400,
    );
    expect(
      (await raw({ model: 'm', messages: [{ role: 'user', content: 'x' }], bogus: 1 })).body.error,
    ).toMatchObject({ code: 'unknown_parameter', param: 'bogus' });
  });
});
