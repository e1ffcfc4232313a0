import { describe, expect, it } from 'vitest';
import { conversationWorkflowId, parseConversationWorkflowId } from '../../src/workflows/ids.js';

describe('conversation workflow ids', () => {
  it('has the documented shape', () => {
    expect(conversationWorkflowId({ tenant: 'acme', channel: 'whatsapp', externalId: '4915112345' })).toBe(
      'conversation:acme:whatsapp:4915112345',
    );
  });

  it.each(['+49 151 123', 'a:b:c', 'user@example.com', 'ü/ß?#%', ':::', '%3A'])(
    'round-trips %j',
    (externalId) => {
      const key = { tenant: 't:1', channel: 'web/chat', externalId };
      const id = conversationWorkflowId(key);
      expect(id.split(':')).toHaveLength(4);
      expect(parseConversationWorkflowId(id)).toEqual(key);
    },
  );

  it('rejects ids that are not conversation ids', () => {
    expect(parseConversationWorkflowId('migration:1')).toBeUndefined();
    expect(parseConversationWorkflowId('conversation:a:b')).toBeUndefined();
  });
});
