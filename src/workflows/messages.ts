import { ApplicationFailure, defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { UsageTotals } from './conversationState.js';

/**
 * Message definitions shared by the workflow and its clients (the API, tests, operators' tools).
 * This module must stay importable from both sides: no Node APIs, no activity code.
 */

export interface InboundMessage {
  /** Client-chosen id; the workflow answers each id once, whatever the retries. */
  id: string;
  text: string;
  user?: string;
  metadata?: Record<string, string>;
  /** ISO-8601 time the channel received it. */
  receivedAt: string;
}

export interface TurnReply {
  messageId: string;
  /**
   * 'answered': the model's reply. 'failed': the turn failed for good and `text` is the agent's
   * apology. 'duplicate': the id was answered before and its reply is no longer held.
   */
  status: 'answered' | 'failed' | 'duplicate';
  turn: number;
  text: string | null;
  responseId: string | null;
}

export type Strategy = 'previous_response_id' | 'conversation' | 'stateless';

export interface ConversationStatus {
  status: 'idle' | 'collecting' | 'running' | 'closed';
  agent: string;
  strategy: Strategy;
  inboxLength: number;
  turns: number;
  segment: number;
  lastResponseId: string | null;
  usage: UsageTotals;
  lastError: string | null;
}

export const messageSignal = defineSignal<[InboundMessage]>('message');
/** An update rather than a signal when the caller wants the reply: it returns when the turn is done. */
export const sendMessageUpdate = defineUpdate<TurnReply, [InboundMessage]>('sendMessage');
export const stateQuery = defineQuery<ConversationStatus>('state');
/** Starts a new transcript segment: the model forgets, earlier items stay in Postgres. */
export const resetSignal = defineSignal('reset');
/** Answers what is already queued, then ends the run. */
export const closeSignal = defineSignal('close');

export const MAX_MESSAGE_TEXT = 32_000;

/**
 * The failure type of an update refused because its run is ending (closed, or idle). Retryable by
 * the caller: once the run has ended, update-with-start starts a new run that answers.
 */
export const CONVERSATION_CLOSING = 'ConversationClosing';

export function conversationClosing(): ApplicationFailure {
  return ApplicationFailure.create({
    type: CONVERSATION_CLOSING,
    message:
      'The conversation is closing and takes no new messages in this run; retry the message (a new run answers it).',
    nonRetryable: true,
  });
}

/** Shared by the update validator, the signal handler and the API, so all reject the same input alike. */
export function validateInboundMessage(message: unknown): asserts message is InboundMessage {
  const m = message as Partial<InboundMessage> | null;
  if (!m || typeof m !== 'object') throw new TypeError('message must be an object');
  if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 256) {
    throw new TypeError('message.id must be a non-empty string of at most 256 characters');
  }
  if (typeof m.text !== 'string' || m.text.trim().length === 0) {
    throw new TypeError('message.text must be a non-empty string');
  }
  if (m.text.length > MAX_MESSAGE_TEXT) {
    throw new TypeError(`message.text must be at most ${MAX_MESSAGE_TEXT} characters`);
  }
  if (typeof m.receivedAt !== 'string') throw new TypeError('message.receivedAt must be an ISO-8601 string');
}
