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
   * apology. 'duplicate': the id was answered before and its reply is no longer held. 'human': an
   * operator has the conversation (human mode): the message is in the transcript, the agent did not
   * answer, `text` is null.
   */
  status: 'answered' | 'failed' | 'duplicate' | 'human';
  turn: number;
  text: string | null;
  responseId: string | null;
}

export type Strategy = 'previous_response_id' | 'conversation' | 'stateless';

export interface ConversationStatus {
  /** 'awaiting_approval': a turn is running and holds a call until an operator decides. */
  status: 'idle' | 'collecting' | 'running' | 'awaiting_approval' | 'closed';
  agent: string;
  strategy: Strategy;
  inboxLength: number;
  turns: number;
  segment: number;
  lastResponseId: string | null;
  usage: UsageTotals;
  lastError: string | null;
  /** Tool calls waiting for an operator (approvals.ts); absent from workers before approvals. */
  pendingApprovals?: PendingApproval[];
  /** Who has the conversation while the agent is silent (takeover.ts); null when the agent answers. */
  humanMode?: HumanMode | null;
}

// --- Tool approvals (docs/approvals-and-takeover.md) ---

/** A function call held until an operator decides; small facts only (the arguments are clipped). */
export interface PendingApproval {
  callId: string;
  tool: string;
  /** The model's arguments (JSON text), at most APPROVAL_ARGUMENTS_SHOWN characters here; whole in the API. */
  arguments: string;
  turn: number;
  step: number;
  requestedAt: string;
  expiresAt: string;
}

export type ApprovalOutcome = 'approved' | 'rejected' | 'expired' | 'cancelled';

export interface ApprovalDecision {
  callId: string;
  tool: string;
  turn: number;
  outcome: ApprovalOutcome;
  /** The operator who decided; null when the timeout or a close/reset decided. */
  operator: string | null;
  reason: string | null;
  decidedAt: string;
}

export interface DecideApprovalInput {
  callId: string;
  approve: boolean;
  /** Who decides: a name given by the caller (there are no operator accounts yet). */
  operator: string;
  reason?: string;
}

export const APPROVAL_ARGUMENTS_SHOWN = 2_000;
export const MAX_OPERATOR_NAME = 128;
export const MAX_REASON = 2_000;

/** An operator approves or rejects a pending call. An update: the validator refuses unknown or decided calls. */
export const decideApprovalUpdate = defineUpdate<ApprovalDecision, [DecideApprovalInput]>('decideApproval');

// --- Human takeover ---

export interface HumanMode {
  operator: string;
  reason: string | null;
  since: string;
  /** 'operator': through the API; 'tool': the agent called an escalation tool. */
  by: 'operator' | 'tool';
}

export interface TakeOverInput {
  operator: string;
  reason?: string;
}

export interface HandBackInput {
  operator: string;
  note?: string;
}

export interface OperatorMessage {
  /** Caller-chosen id: the reply goes out once per id, whatever the retries. */
  id: string;
  operator: string;
  text: string;
}

export interface OperatorReply {
  messageId: string;
  /** 'duplicate': this id was sent before; `turn` is its turn. */
  status: 'sent' | 'duplicate';
  turn: number;
  /** What the channel's delivery did: the ledger's word, or 'failed' after its retries. */
  delivery: 'sent' | 'already_sent' | 'no_sender' | 'nothing_to_send' | 'failed' | 'blocked' | 'unknown';
}

/** Puts the conversation in human mode: the agent stops answering (from the next turn on). */
export const takeOverUpdate = defineUpdate<HumanMode, [TakeOverInput]>('takeOver');
/** Ends human mode: the agent answers again and its next model call sees what the operator said. */
export const handBackUpdate = defineUpdate<{ humanMode: null }, [HandBackInput]>('handBack');
/** An operator's reply, sent through the conversation's channel; only in human mode. */
export const operatorMessageUpdate = defineUpdate<OperatorReply, [OperatorMessage]>('operatorMessage');

/** Failure types the operator's updates end with; the API maps them to 404/409. */
export const APPROVAL_NOT_FOUND = 'ApprovalNotFound';
export const APPROVAL_ALREADY_DECIDED = 'ApprovalAlreadyDecided';
export const NOT_IN_HUMAN_MODE = 'NotInHumanMode';

function failure(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
export const approvalNotFound = (callId: string, pending: string[]) =>
  failure(
    APPROVAL_NOT_FOUND,
    `No tool call ${callId.slice(0, 256)} is waiting for approval in this conversation` +
      (pending.length ? ` (waiting: ${pending.join(', ')}).` : ' (none is waiting).'),
  );
export const approvalAlreadyDecided = (d: ApprovalDecision) =>
  failure(
    APPROVAL_ALREADY_DECIDED,
    `Tool call ${d.callId} was already decided: ${d.outcome}` +
      `${d.operator ? ` by ${d.operator}` : ''} at ${d.decidedAt}; a decision is applied once.`,
  );
export const notInHumanMode = () =>
  failure(
    NOT_IN_HUMAN_MODE,
    'The conversation is not in human mode: take it over first (POST .../takeover), then send operator messages.',
  );

function checkName(value: unknown, field: string, max: number): void {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max)
    throw new TypeError(`${field} must be a non-empty string of at most ${max} characters`);
}
function checkOptional(value: unknown, field: string, max: number): void {
  if (value !== undefined && (typeof value !== 'string' || value.length > max))
    throw new TypeError(`${field} must be a string of at most ${max} characters`);
}

export function validateDecideApproval(input: unknown): asserts input is DecideApprovalInput {
  const i = input as Partial<DecideApprovalInput> | null;
  if (!i || typeof i !== 'object') throw new TypeError('the decision must be an object');
  checkName(i.callId, 'callId', 256);
  if (typeof i.approve !== 'boolean') throw new TypeError('approve must be true or false');
  checkName(i.operator, 'operator', MAX_OPERATOR_NAME);
  checkOptional(i.reason, 'reason', MAX_REASON);
}

export function validateTakeOver(input: unknown): asserts input is TakeOverInput {
  const i = input as Partial<TakeOverInput> | null;
  if (!i || typeof i !== 'object') throw new TypeError('the takeover must be an object');
  checkName(i.operator, 'operator', MAX_OPERATOR_NAME);
  checkOptional(i.reason, 'reason', MAX_REASON);
}

export function validateHandBack(input: unknown): asserts input is HandBackInput {
  const i = input as Partial<HandBackInput> | null;
  if (!i || typeof i !== 'object') throw new TypeError('the hand back must be an object');
  checkName(i.operator, 'operator', MAX_OPERATOR_NAME);
  checkOptional(i.note, 'note', MAX_REASON);
}

export function validateOperatorMessage(input: unknown): asserts input is OperatorMessage {
  const i = input as Partial<OperatorMessage> | null;
  if (!i || typeof i !== 'object') throw new TypeError('the operator message must be an object');
  checkName(i.id, 'id', 256);
  checkName(i.operator, 'operator', MAX_OPERATOR_NAME);
  if (typeof i.text !== 'string' || i.text.trim().length === 0 || i.text.length > MAX_MESSAGE_TEXT)
    throw new TypeError(`text must be a non-empty string of at most ${MAX_MESSAGE_TEXT} characters`);
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
