import { patched } from '@temporalio/workflow';
import type { ConversationState } from './conversationState.js';

/**
 * A run forgets the ids an earlier run answered (a close or an idle timeout ends it): a channel or
 * client that sends one again lands it in a new batch, and recordTurnInput finds it in Postgres.
 * Its caller hears 'duplicate', not the reply of a turn it is not part of. Histories recorded
 * before the patch gave it the new turn's reply, and replay that.
 */
export function leaveOutRedelivered(
  state: ConversationState,
  duplicates: readonly string[] | undefined,
): void {
  if (duplicates?.length && patched('redelivered-messages-not-in-the-turn')) state.leaveOutOfTurn(duplicates);
}
