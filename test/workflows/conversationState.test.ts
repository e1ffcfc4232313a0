import { describe, expect, it } from 'vitest';
import { ConversationState, SEEN_IDS_KEPT } from '../../src/workflows/conversationState.js';

const msg = (id: string) => ({ id, text: `text ${id}`, receivedAt: '2026-11-21T00:00:00Z' });

describe('ConversationState', () => {
  it('queues messages in arrival order and refuses repeated ids', () => {
    const s = new ConversationState();
    expect(s.accept(msg('a'), 1)).toBe(true);
    expect(s.accept(msg('b'), 2)).toBe(true);
    expect(s.accept(msg('a'), 3)).toBe(false);
    expect(s.inbox.map((e) => e.message.id)).toEqual(['a', 'b']);
    expect(s.arrivals()).toEqual([1, 2]);
  });

  it('gives every message of a burst the one reply of its turn', () => {
    const s = new ConversationState();
    ['a', 'b', 'c'].forEach((id, i) => s.accept(msg(id), i));
    const batch = s.takeBatch(3);
    expect(batch.map((m) => m.id)).toEqual(['a', 'b', 'c']);
    expect(s.isPending('b')).toBe(true);
    s.finishTurn(1, { status: 'answered', turn: 1, text: 'hi', responseId: 'resp_1' });
    expect(s.replyFor('a')?.text).toBe('hi');
    expect(s.replyFor('c')).toMatchObject({ messageId: 'c', turn: 1 });
    expect(s.isPending('b')).toBe(false);
    expect(s.turns).toBe(1);
  });

  it('carries inbox, counters, replies and a bounded dedupe set across continue-as-new', () => {
    const s = new ConversationState();
    for (let i = 0; i < SEEN_IDS_KEPT + 50; i++) s.accept(msg(`m${i}`), i);
    s.takeBatch(SEEN_IDS_KEPT + 40);
    s.finishTurn(7, { status: 'answered', turn: 7, text: 'ok', responseId: 'resp_7' });
    s.lastResponseId = 'resp_7';
    s.addUsage({ inputTokens: 10, cachedInputTokens: 4, outputTokens: 3 }, true);
    const carried = s.carry();
    expect(carried.seenIds).toHaveLength(SEEN_IDS_KEPT);
    expect(carried.inbox).toHaveLength(10);

    const next = new ConversationState(JSON.parse(JSON.stringify(carried)));
    expect(next.turns).toBe(7);
    expect(next.lastResponseId).toBe('resp_7');
    expect(next.usage).toEqual({
      inputTokens: 10,
      cachedInputTokens: 4,
      outputTokens: 3,
      modelCalls: 1,
      recoveries: 1,
    });
    expect(next.accept(msg(`m${SEEN_IDS_KEPT + 49}`), 0)).toBe(false); // still in the carried inbox
    expect(next.accept(msg('m60'), 0)).toBe(false); // recent enough to be remembered
    expect(next.replyFor(`m${SEEN_IDS_KEPT + 39}`)?.text).toBe('ok');
  });

  it('a reset starts a new segment without a server-side pointer', () => {
    const s = new ConversationState({ lastResponseId: 'resp_1', segment: 0 });
    s.resetRequested = true;
    s.startNewSegment();
    expect(s).toMatchObject({ segment: 1, lastResponseId: null, resetRequested: false });
  });
});
