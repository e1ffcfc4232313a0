import type OpenAI from 'openai';
import type { AgentDefinition } from '../agents/types.js';
import type { Pool } from '../store/pool.js';
import type { StreamSink } from '../streaming/publisher.js';
import type { ConversationKey } from '../workflows/ids.js';

/**
 * A provider turns one model step into one API call (or a recovery and a retry of it). The model
 * activity around it handles idempotency and persistence, the same for every provider.
 */
export type ProviderName = 'openai-responses' | 'openai-conversations' | 'chat-completions';

export interface ProviderCapabilities {
  /** The provider keeps the conversation server-side, so a call sends only the new items. */
  storedState: boolean;
  /** State lives in a conversation object that outlives stored responses. */
  conversationObjects: boolean;
  /** Calls stream (`stream: true`) when the step has a sink: deltas reach subscribers while the model writes. */
  streaming: boolean;
  /** Identifiers a call returns, as recorded on `model_calls`. */
  identifiers: readonly (
    | 'response_id'
    | 'previous_response_id'
    | 'conversation_id'
    | 'request_id'
    | 'completion_id'
    | 'system_fingerprint'
    | 'service_tier'
  )[];
}

/**
 * How a call got past server-side state it could not use: the chain gone (history re-sent as items
 * or as instructions), the conversation gone or broken (recreated from the transcript), the state
 * grown past the model's context window (a new chain or conversation from a budgeted window).
 */
export type Recovery =
  | 'history_items'
  | 'history_instructions'
  | 'conversation_recreated'
  | 'conversation_repaired'
  | 'context_trimmed';

export interface StepRequest {
  conversationId: string;
  key: ConversationKey;
  turn: number;
  step: number;
  segment: number;
  previousResponseId: string | null;
  mode: 'normal' | 'final' | 'rewrite';
}

export interface ProviderContext {
  pool: Pool;
  client: OpenAI;
  agent: AgentDefinition;
  step: StepRequest;
  /** The step's new items (wire shape), already in the transcript. */
  stepInput: Record<string, unknown>[];
  /** The current segment's transcript, oldest first (new items included). */
  loadHistory(): Promise<Record<string, unknown>[]>;
  warn(message: string, attributes: Record<string, unknown>): void;
  /** Aborts the HTTP request when the activity is cancelled (worker shutdown, heartbeat timeout). */
  signal?: AbortSignal;
  /** Where a streaming provider sends the call's events (absent: the call does not stream). */
  stream?: StreamSink;
}

/** Usage in the Responses API's shape, whatever the provider reported. */
export interface NormalisedUsage {
  input_tokens: number;
  output_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens_details: { reasoning_tokens: number };
}

export interface ProviderCall {
  /** Output items in the Responses wire shape: the transcript's one format. */
  output: Record<string, unknown>[];
  responseId: string;
  previousResponseId: string | null;
  openaiConversationId: string | null;
  requestId: string | null;
  model: string;
  serviceTier: string | null;
  fingerprint: string | null;
  usage: NormalisedUsage;
  recovered: Recovery | null;
  /** Why the answer stopped short (`incomplete_details.reason`, a `length` finish), or null. */
  incomplete: string | null;
  raw: Record<string, unknown>;
}

export interface ModelProvider {
  name: ProviderName;
  capabilities: ProviderCapabilities;
  call(ctx: ProviderContext): Promise<ProviderCall>;
}
