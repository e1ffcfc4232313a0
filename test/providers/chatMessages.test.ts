import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { fromChatCompletion, toChatMessages } from '../../src/providers/chatMessages.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { defineAgent } from '../../src/agents/define.js';
import { assertMatchesSchema } from '../emulator/support/schemas.js';

const user = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });
const assistant = (text: string) => ({
  type: 'message',
  role: 'assistant',
  content: [{ type: 'output_text', text, annotations: [] }],
});
const call = (id: string, name: string) => ({
  type: 'function_call',
  call_id: id,
  name,
  arguments: '{"a":1}',
});
const output = (id: string) => ({ type: 'function_call_output', call_id: id, output: 'ok' });

describe('Responses items to Chat Completions messages', () => {
  it('maps roles, merges parallel calls into one assistant message, answers them with tool messages', () => {
    const messages = toChatMessages('Be brief.', [
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Local time: noon.' }] },
      user('weather and time?'),
      call('c1', 'get_weather'),
      call('c2', 'get_time'),
      output('c1'),
      output('c2'),
      assistant('Sunny, noon.'),
      { type: 'reasoning', id: 'rs_1', summary: [] },
      user('thanks'),
    ]);
    expect(messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Local time: noon.' },
      { role: 'user', content: 'weather and time?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"a":1}' } },
          { id: 'c2', type: 'function', function: { name: 'get_time', arguments: '{"a":1}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      { role: 'tool', tool_call_id: 'c2', content: 'ok' },
      { role: 'assistant', content: 'Sunny, noon.' },
      { role: 'user', content: 'thanks' },
    ]);
  });

  it('keeps assistant text and the calls that follow it in one message', () => {
    expect(toChatMessages(null, [assistant('Let me check.'), call('c1', 'f'), output('c1')])).toEqual([
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ]);
  });
});

describe('media in Chat Completions messages', () => {
  const PNG = 'data:image/png;base64,iVBORw0KGgo=';
  const PDF = 'data:application/pdf;base64,JVBERi0xLjQ=';
  it('an image and a file the Responses provider sends as input_image/input_file become image_url and file parts', () => {
    const [message] = toChatMessages(null, [
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_image', detail: 'auto', image_url: PNG },
          { type: 'input_file', filename: 'booking.pdf', file_data: PDF },
          { type: 'input_text', text: 'What is this?' },
        ],
      },
    ]);
    expect(message).toEqual({
      role: 'user',
      content: [
        { type: 'image_url', image_url: { url: PNG, detail: 'auto' } },
        { type: 'file', file: { filename: 'booking.pdf', file_data: PDF } },
        { type: 'text', text: 'What is this?' },
      ],
    });
    assertMatchesSchema('ChatCompletionRequestUserMessage', message);
  });

  it("Responses-only details are mapped to the chat API's, and a text-only message stays a string", () => {
    const [message] = toChatMessages(null, [
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_image', detail: 'original', image_url: PNG },
          { type: 'input_file', file_id: 'file-abc' },
          { type: 'input_file', file_url: 'https://example.com/menu.pdf', filename: 'menu.pdf' },
        ],
      },
      user('plain'),
    ]);
    expect((message as { content: unknown[] }).content).toEqual([
      { type: 'image_url', image_url: { url: PNG, detail: 'high' } },
      { type: 'file', file: { file_id: 'file-abc' } },
      // Chat Completions has no file URL: the model is told which file it was.
      { type: 'text', text: '[file menu.pdf: https://example.com/menu.pdf]' },
    ]);
    assertMatchesSchema('ChatCompletionRequestUserMessage', message);
    expect(toChatMessages(null, [user('plain')])).toEqual([{ role: 'user', content: 'plain' }]);
  });
});

describe('a Chat Completion to Responses output items', () => {
  it('gives the transcript one shape, whatever the provider', () => {
    const completion = {
      id: 'chatcmpl-1',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_time', arguments: '{}' } }],
          },
        },
      ],
    } as unknown as OpenAI.Chat.ChatCompletion;
    expect(fromChatCompletion(completion)).toEqual([
      {
        type: 'message',
        id: 'msg_chatcmpl-1',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'Checking.', annotations: [] }],
      },
      {
        type: 'function_call',
        id: 'fc_call_9',
        call_id: 'call_9',
        name: 'get_time',
        arguments: '{}',
        status: 'completed',
      },
    ]);
  });
});

describe('provider capabilities', () => {
  it('each provider declares its state model and identifiers', () => {
    expect(PROVIDERS['openai-responses'].capabilities).toMatchObject({
      storedState: true,
      conversationObjects: false,
    });
    expect(PROVIDERS['openai-conversations'].capabilities).toMatchObject({
      storedState: true,
      conversationObjects: true,
    });
    expect(PROVIDERS['chat-completions'].capabilities).toMatchObject({
      storedState: false,
      conversationObjects: false,
    });
    expect(PROVIDERS['chat-completions'].capabilities.identifiers).toContain('system_fingerprint');
  });

  it('an agent gets the provider of its strategy, and an impossible pairing is refused', () => {
    const base = { name: 'a', model: 'm', instructions: 'i' };
    expect(defineAgent(base).provider).toBe('openai-responses');
    expect(defineAgent({ ...base, strategy: 'conversation' }).provider).toBe('openai-conversations');
    expect(defineAgent({ ...base, strategy: 'stateless', provider: 'chat-completions' }).provider).toBe(
      'chat-completions',
    );
    expect(() => defineAgent({ ...base, provider: 'chat-completions' })).toThrow(
      /provider chat-completions cannot run strategy previous_response_id \(it supports: stateless\)/,
    );
  });
});
