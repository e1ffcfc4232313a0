import type { FunctionTool } from '@openai/agents';
import type OpenAI from 'openai';
import type { ProviderName } from '../providers/types.js';
import type { ChannelAction, TemplateSpec } from '../channels/actions.js';
import type { BurstSettings } from '../workflows/burst.js';
import type { InboundMessage, Strategy } from '../workflows/messages.js';

/** Wire-shaped input items (the Responses API's own type). */
export type InputItem = OpenAI.Responses.ResponseInputItem;

/**
 * What a tool learns about the conversation from the runtime, not from the model: the model never
 * has to pass these and cannot override them (they are not tool parameters).
 */
export interface ToolContext {
  tenant: string;
  channel: string;
  conversationId: string;
  externalId: string;
  user: string | null;
  turn: number;
  callId: string;
  /** `{workflowId}/{turn}/{callId}`: the same on every retry of this call; make side effects once per key. */
  idempotencyKey: string;
  /**
   * Sends a channel action (a document, a picture, a location, buttons, a list, a template) with
   * this turn's reply: recorded now under this call's idempotency key, delivered after the turn in
   * the order sent, before the text. Throws naming the field when the action is malformed.
   */
  send(action: ChannelAction): Promise<void>;
  /**
   * The turn's inbound messages as the channel described them: each message id with its metadata
   * (`type`, and e.g. `latitude`/`longitude` for a location, `replyId` for a button reply, `mediaId`
   * for media; docs/api.md has the table). Empty when the runtime recorded none.
   */
  inbound?: { messageId: string; metadata: Record<string, string> }[];
}

export interface TurnContext {
  /** Workflow time at the start of the turn (ISO-8601): deterministic under replay, unlike the clock. */
  now: string;
  timeZone: string;
  tenant: string;
  channel: string;
  conversationId: string;
  user: string | null;
  turn: number;
  agent: string;
}

/**
 * Builds a turn's model input from its messages. Whatever it returns is what the model receives
 * and what the transcript keeps, item for item.
 */
export type ContextualizeHook = (messages: InboundMessage[], ctx: TurnContext) => InputItem[];

/** How long a tool may take (src/agents/toolPolicy.ts has the defaults and the checks). */
export interface ToolPolicy {
  /** One attempt's limit (default 30 s). */
  timeoutMs?: number;
  /** Attempts in all (default 3; unlimited when only `maxDurationMs` is given). */
  maxAttempts?: number;
  /** All attempts and the waits between them (default 5 min). */
  maxDurationMs?: number;
  /**
   * For a tool declared with `needsApproval`: how long a call waits for an operator before it is
   * rejected as expired (default: the agent's `approvalTimeoutMs`).
   */
  approvalTimeoutMs?: number;
}

/** A tool's policy with defaults filled; `maxAttempts` 0 means no attempt limit. */
export interface ResolvedToolPolicy {
  timeoutMs: number;
  maxAttempts: number;
  /** Absent in settings recorded before the time bound existed. */
  maxDurationMs?: number;
}

export interface ModelSettings {
  reasoning?: { effort?: 'minimal' | 'low' | 'medium' | 'high' };
  include?: OpenAI.Responses.ResponseIncludable[];
  /** Stored responses are needed for chaining; the stateless strategy sends store=false. */
  store?: boolean;
  maxOutputTokens?: number;
  temperature?: number;
}

/** How expired server-side state is replaced: as input items, or as text appended to the instructions. */
export type RecoveryMode = 'items' | 'instructions';

export interface AgentDefinition {
  name: string;
  model: string;
  instructions: string;
  // Tools of any parameter shape; they all receive a ToolContext.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tools: FunctionTool<ToolContext, any, any>[];
  toolPolicies: Record<string, ToolPolicy>;
  modelSettings: ModelSettings;
  strategy: Strategy;
  /**
   * Which API the model is called through. Derived from the strategy unless set: `conversation`
   * uses openai-conversations, the others openai-responses. `chat-completions` (stateless only)
   * talks to any Chat Completions-compatible endpoint.
   */
  provider: ProviderName;
  /** A client for another endpoint (OpenRouter, vLLM, ...); default: the runtime's OpenAI client. */
  client?: OpenAI;
  timeZone: string;
  apologyText: string;
  /**
   * The reply to a turn with nothing the model can use (a video, a type the channel cannot
   * deliver): sent without a model call.
   */
  unsupportedMessageReply: string;
  /** The reply when the turn's only media could not be received (too large, type not accepted, gone). */
  mediaProblemReply: string;
  burst: BurstSettings;
  maxToolRounds: number;
  /** Token budget of history re-sent on recovery and by the stateless strategy. */
  historyTokenBudget: number;
  recovery: RecoveryMode;
  contextualize: ContextualizeHook;
  continueAsNewAfterTurns: number;
  /** A run with no message for this long completes; the next message starts a run restored from Postgres. */
  idleTimeoutMs: number;
  /**
   * The WhatsApp template sent instead of a turn's messages outside the 24-hour customer service
   * window. Unset: such messages are recorded as blocked, not sent.
   */
  whatsappTemplate?: TemplateSpec;
  /**
   * Agents this one may hand the conversation to: the model sees a `transfer_to_<name>` tool for
   * each, and the next step (and later turns) run as that agent. Checked by createRegistry.
   */
  handoffs: string[];
  /** Tells other agents' models when to hand over to this one (the transfer tool's description). */
  handoffDescription?: string;
  /** How long a call of a `needsApproval` tool waits for an operator (default 24 h); per tool in toolPolicies. */
  approvalTimeoutMs: number;
}

/** The part of an agent the workflow needs: small, serialisable, read once per run. */
export interface AgentSettings {
  strategy: Strategy;
  burst: BurstSettings;
  maxToolRounds: number;
  apologyText: string;
  continueAsNewAfterTurns: number;
  idleTimeoutMs: number;
  toolPolicies: Record<string, ResolvedToolPolicy>;
  /** Per tool, how long a call that needs approval waits; absent in settings recorded before approvals. */
  approvalTimeouts?: Record<string, number>;
  /** Tools that hand the conversation to a human when called (src/agents/takeoverTools.ts). */
  takeoverTools?: string[];
}
