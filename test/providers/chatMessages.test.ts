import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { fromChatCompletion, toChatMessages } from '../../src/providers/chatMessages.js';
import { PROVIDERS } from '../../src/providers/index.js';
import { defineAgent } from '../../src/agents/define.js';

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
