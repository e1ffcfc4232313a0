import { describe, expect, it } from 'vitest';
import { answerEndsTurn } from '../../src/workflows/finalAnswer.js';

/** The rule the model step finishes a turn by must be turn.ts's: the last step is the answering one. */
const call = [{ callId: 'c1' }];

describe('which model step ends a turn', () => {
  it('a normal step without tool calls and with words, not tool JSON', () => {
    expect(answerEndsTurn('normal', { functionCalls: [], looksLikeToolJson: false })).toBe(true);
    // The tools run and the model is asked again.
    expect(answerEndsTurn('normal', { functionCalls: call, looksLikeToolJson: false })).toBe(false);
    // The output guard asks for a rewrite.
    expect(answerEndsTurn('normal', { functionCalls: [], looksLikeToolJson: true })).toBe(false);
  });

  it('a final step (out of tool rounds) unless its words are tool JSON; any rewrite', () => {
    // Tool calls after the round limit are not run: the turn ends with the text.
    expect(answerEndsTurn('final', { functionCalls: call, looksLikeToolJson: false })).toBe(true);
    expect(answerEndsTurn('final', { functionCalls: [], looksLikeToolJson: true })).toBe(false);
    expect(answerEndsTurn('rewrite', { functionCalls: [], looksLikeToolJson: true })).toBe(true);
  });
});
