/**
 * When a model step's answer ends the turn, the rule turn.ts follows: a 'normal' step that asked for
 * no tool and whose text is not a tool call written out as JSON, a 'final' step (out of tool rounds)
 * whose text passes that guard, and any 'rewrite' step (the guard's one retry). The model activity
 * uses the same rule to finish and deliver the turn in the step that answered it
 * (src/activities/turnSteps.ts), so the two cannot disagree about which step was the last.
 */
export function answerEndsTurn(
  mode: 'normal' | 'final' | 'rewrite',
  result: { functionCalls: readonly unknown[]; looksLikeToolJson: boolean },
): boolean {
  if (mode === 'rewrite') return true;
  if (mode === 'normal' && result.functionCalls.length > 0) return false;
  return !result.looksLikeToolJson;
}
