import { describe, expect, it } from 'vitest';
import { ConversationState, needsReplyText, SEEN_IDS_KEPT } from '../../src/workflows/conversationState.js';

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

  it('gives no reply to a message an earlier run answered, redelivered in this batch', () => {
    const s = new ConversationState();
    ['old', 'new'].forEach((id, i) => s.accept(msg(id), i));
    s.takeBatch(2);
    s.leaveOutOfTurn(['old']);
    expect(s.isPending('old')).toBe(false);
    s.finishTurn(2, { status: 'answered', turn: 2, text: 'hi', responseId: 'resp_2' });
    expect(s.replyFor('old')).toBeUndefined();
    expect(s.replyFor('new')).toMatchObject({ turn: 2, text: 'hi' });
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
    // The reply is held without its text: a retrying caller's reply is read back from Postgres.
    const held = next.replyFor(`m${SEEN_IDS_KEPT + 39}`)!;
    expect(held).toEqual({
      messageId: `m${SEEN_IDS_KEPT + 39}`,
      status: 'answered',
      turn: 7,
      responseId: 'resp_7',
    });
    expect(needsReplyText(held)).toBe(true);
  });

  it('carries replies in bytes bounded by their count, not their text', () => {
    const s = new ConversationState();
    for (let i = 0; i < 100; i++) {
      s.accept(msg(`m${i}`), i);
      s.takeBatch(1);
      s.finishTurn(i + 1, {
        status: 'answered',
        turn: i + 1,
        text: 'z'.repeat(20_000),
        responseId: `resp_${i}`,
      });
    }
    expect(JSON.stringify(s.carry()).length).toBeLessThan(20_000);
    // States recorded before the change carried the text; replaying them must carry it still.
    expect(JSON.stringify(s.carry({ withReplyText: true })).length).toBeGreaterThan(2_000_000);
  });

  it('a duplicate keeps its null text across continue-as-new (nothing to read back)', () => {
    const s = new ConversationState();
    s.accept(msg('d'), 0);
    s.takeBatch(1);
    s.finishTurn(3, { status: 'duplicate', turn: 3, text: null, responseId: null });
    const held = new ConversationState(s.carry()).replyFor('d')!;
    expect(held.text).toBeNull();
    expect(needsReplyText(held)).toBe(false);
  });

  it('carries a close or reset asked for during the last turn', () => {
    const s = new ConversationState();
    s.closeRequested = true;
    s.resetRequested = true;
    const next = new ConversationState(JSON.parse(JSON.stringify(s.carry())));
    expect(next).toMatchObject({ closeRequested: true, resetRequested: true });
    // A state carried before the flags existed has neither.
    const { closeRequested: _c, resetRequested: _r, ...old } = s.carry();
    expect(new ConversationState(old)).toMatchObject({ closeRequested: false, resetRequested: false });
  });

  it('never counts turns backwards when an older, abandoned turn is finished', () => {
    const s = new ConversationState({ turns: 7 });
    s.accept(msg('late'), 0);
    s.takeBatch(1);
    s.finishTurn(5, { status: 'answered', turn: 5, text: 'ok', responseId: 'resp_5' });
    expect(s.turns).toBe(7);
  });

  it('a reset starts a new segment without a server-side pointer', () => {
    const s = new ConversationState({ lastResponseId: 'resp_1', segment: 0 });
    s.resetRequested = true;
    s.startNewSegment();
    expect(s).toMatchObject({ segment: 1, lastResponseId: null, resetRequested: false });
  });
});
