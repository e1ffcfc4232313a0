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
  /**
   * Media (a reference, never the bytes) or the marker of a type the agent cannot use, in the order
   * the user sent them. `text` may be empty when there is one (a photo without a caption).
   */
  attachments?: Attachment[];
}

export type AttachmentKind = 'image' | 'document' | 'audio' | 'video' | 'sticker' | 'unsupported';

/** Small and fixed-size: it crosses the workflow boundary (src/media resolves it to bytes). */
export interface Attachment {
  kind: AttachmentKind;
  /** The channel's media id (WhatsApp: a Graph API media id). */
  mediaId?: string;
  mimeType?: string;
  sha256?: string;
  filename?: string;
  /** A voice note (WhatsApp audio recorded in the app). */
  voice?: boolean;
  animated?: boolean;
  /** For `unsupported`: the channel's name for the type (`unsupported`, `order`, ...). */
  type?: string;
  /**
   * Set inside the recordTurnInput activity once the media is fetched (src/media/resolve.ts), for
   * the contextualize hook; never part of a signal, an update or workflow history.
   */
  resolved?: AttachmentResolution;
}

export type AttachmentResolution =
  | { status: 'stored'; mimeType: string; byteSize: number; transcript: string | null }
  | { status: 'problem'; problem: 'too_large' | 'type_not_allowed' | 'unavailable'; reason: string }
  /** Not fetched: the model cannot take it (video, unsupported types, animated stickers). */
  | { status: 'skipped' };

export const MAX_ATTACHMENTS = 10;

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
  const attachments = m.attachments;
  if (attachments !== undefined) validateAttachments(attachments);
  const hasAttachment = Array.isArray(attachments) && attachments.length > 0;
  if (typeof m.text !== 'string' || (m.text.trim().length === 0 && !hasAttachment)) {
    throw new TypeError('message.text must be a non-empty string (it may be empty only with attachments)');
  }
  if (m.text.length > MAX_MESSAGE_TEXT) {
    throw new TypeError(`message.text must be at most ${MAX_MESSAGE_TEXT} characters`);
  }
  if (typeof m.receivedAt !== 'string') throw new TypeError('message.receivedAt must be an ISO-8601 string');
}

const ATTACHMENT_KINDS = ['image', 'document', 'audio', 'video', 'sticker', 'unsupported'];

function validateAttachments(attachments: unknown): void {
  if (!Array.isArray(attachments) || attachments.length > MAX_ATTACHMENTS)
    throw new TypeError(`message.attachments must be an array of at most ${MAX_ATTACHMENTS} attachments`);
  attachments.forEach((a: unknown, i) => {
    const att = a as Record<string, unknown> | null;
    if (!att || typeof att !== 'object' || !ATTACHMENT_KINDS.includes(att.kind as string))
      throw new TypeError(`message.attachments[${i}].kind must be one of ${ATTACHMENT_KINDS.join(', ')}`);
    for (const key of ['mediaId', 'mimeType', 'sha256', 'filename', 'type']) {
      const v = att[key];
      if (v !== undefined && (typeof v !== 'string' || v.length > 512))
        throw new TypeError(`message.attachments[${i}].${key} must be a string of at most 512 characters`);
    }
    if (att.kind !== 'unsupported' && typeof att.mediaId !== 'string')
      throw new TypeError(`message.attachments[${i}].mediaId is required for ${String(att.kind)}`);
  });
}
