import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { ConversationKey } from './ids.js';
import {
  messageSignal,
  sendMessageUpdate,
  stateQuery,
  validateInboundMessage,
  type ConversationStatus,
  type InboundMessage,
  type TurnReply,
} from './messages.js';
import { AGENT, CHANNEL, STATUS, TENANT } from './searchAttributes.js';

type Activities = ReturnType<typeof createActivities>;

const { recordUserMessage } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
const { callModel } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

export interface ConversationInput extends ConversationKey {
  agent: string;
  /** Present after continue-as-new. */
  carried?: CarriedState;
}

export interface CarriedState {
  turns: number;
  lastResponseId: string | null;
  inbox: InboundMessage[];
  /** Recent message ids, so a retried delivery is still recognised after continue-as-new. */
  seenIds: string[];
}

const SEEN_IDS_KEPT = 500;
const REPLIES_KEPT = 50;
const IDLE_TIMEOUT = '24 hours';

/** The conversation's state and the rules that change it; the workflow function is only wiring. */
export class Conversation {
  turns: number;
  lastResponseId: string | null;
  inbox: InboundMessage[];
  lastError: string | null = null;
  running = false;
  private readonly seen: Set<string>;
  private readonly replies = new Map<string, TurnReply>();

  constructor(carried?: CarriedState) {
    this.turns = carried?.turns ?? 0;
    this.lastResponseId = carried?.lastResponseId ?? null;
    this.inbox = carried?.inbox ?? [];
    this.seen = new Set(carried?.seenIds ?? []);
    for (const m of this.inbox) this.seen.add(m.id);
  }

  /** Returns false for a message id seen before (a channel or client retry). */
  accept(message: InboundMessage): boolean {
    if (this.seen.has(message.id)) return false;
    this.seen.add(message.id);
    if (this.seen.size > SEEN_IDS_KEPT) this.seen.delete(this.seen.values().next().value as string);
    this.inbox.push(message);
    return true;
  }

  recordReply(reply: TurnReply): void {
    this.replies.set(reply.messageId, reply);
    if (this.replies.size > REPLIES_KEPT) this.replies.delete(this.replies.keys().next().value as string);
  }

  replyFor(messageId: string): TurnReply | undefined {
    return this.replies.get(messageId);
  }

  isPending(messageId: string): boolean {
    return this.inbox.some((m) => m.id === messageId) || this.inFlight === messageId;
  }

  inFlight: string | null = null;

  status(): ConversationStatus {
    return {
      status: this.running ? 'running' : 'idle',
      inboxLength: this.inbox.length,
      turns: this.turns,
      lastResponseId: this.lastResponseId,
      lastError: this.lastError,
    };
  }

  carry(): CarriedState {
    return {
      turns: this.turns,
      lastResponseId: this.lastResponseId,
      inbox: this.inbox,
      seenIds: [...this.seen].slice(-SEEN_IDS_KEPT),
    };
  }
}

export async function conversationWorkflow(input: ConversationInput): Promise<void> {
  const conversation = new Conversation(input.carried);
  const conversationId = workflowInfo().workflowId;

  setHandler(messageSignal, (message) => {
    conversation.accept(message);
  });
  setHandler(
    sendMessageUpdate,
    async (message) => {
      conversation.accept(message);
      await condition(
        () => conversation.replyFor(message.id) !== undefined || !conversation.isPending(message.id),
      );
      return (
        conversation.replyFor(message.id) ?? {
          messageId: message.id,
          status: 'duplicate',
          turn: 0,
          text: null,
          responseId: null,
        }
      );
    },
    { validator: (message) => validateInboundMessage(message) },
  );
  setHandler(stateQuery, () => conversation.status());

  upsertSearchAttributes([
    { key: TENANT, value: input.tenant },
    { key: CHANNEL, value: input.channel },
    { key: AGENT, value: input.agent },
    { key: STATUS, value: 'idle' },
  ]);

  for (;;) {
    const hasWork = await condition(() => conversation.inbox.length > 0, IDLE_TIMEOUT);
    if (!hasWork) break;
    const message = conversation.inbox.shift()!;
    conversation.inFlight = message.id;
    conversation.running = true;
    const turn = conversation.turns + 1;
    try {
      await recordUserMessage({ conversationId, key: input, agent: input.agent, turn, message });
      const result = await callModel({
        conversationId,
        agent: input.agent,
        turn,
        step: 1,
        previousResponseId: conversation.lastResponseId,
      });
      conversation.lastResponseId = result.responseId;
      conversation.lastError = null;
      conversation.recordReply({
        messageId: message.id,
        status: 'answered',
        turn,
        text: result.text,
        responseId: result.responseId,
      });
    } catch (err) {
      // The turn failed after its retries: the message is not dropped silently, the state says why,
      // and the next message starts a fresh turn. (The workflow issue adds the agent's apology.)
      conversation.lastError = err instanceof Error ? err.message : String(err);
      log.warn('turn failed', { turn, error: conversation.lastError });
      conversation.recordReply({
        messageId: message.id,
        status: 'answered',
        turn,
        text: null,
        responseId: null,
      });
    } finally {
      conversation.turns = turn;
      conversation.inFlight = null;
      conversation.running = false;
    }

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof conversationWorkflow>({ ...input, carried: conversation.carry() });
    }
  }
  await condition(allHandlersFinished);
}
