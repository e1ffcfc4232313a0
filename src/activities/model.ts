import { Context } from '@temporalio/activity';
import type OpenAI from 'openai';
import { getAgent, type AgentRegistry } from '../agents/registry.js';
import type { AgentDefinition, InputItem } from '../agents/types.js';
import { withTransaction, type Pool, type PoolClient } from '../store/pool.js';
import { appendItems } from '../store/transcript.js';
import type { ConversationKey } from '../workflows/ids.js';
import {
  historyAsText,
  looksLikeRawToolCall,
  outputText,
  sanitizeForInput,
  trimToBudget,
} from './history.js';
import { factsOf, isConversationGone, isPreviousResponseGone, toActivityFailure } from './openaiErrors.js';

export interface CallModelInput {
  conversationId: string;
  key: ConversationKey;
  agent: string;
  turn: number;
  step: number;
  segment: number;
  previousResponseId: string | null;
  /**
   * 'normal' offers the agent's tools. 'final' (after the tool round limit) and 'rewrite' (the output
   * guard) forbid tool calls so the model has to answer in words.
   */
  mode: 'normal' | 'final' | 'rewrite';
}

export interface FunctionCallFact {
  callId: string;
  name: string;
  arguments: string;
}

export type Recovery = 'history_items' | 'history_instructions' | 'conversation_recreated';

/** Small facts only: nothing here grows with the conversation. */
export interface CallModelResult {
  responseId: string;
  functionCalls: FunctionCallFact[];
  text: string;
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number };
  recovered: Recovery | null;
  /** The output guard's verdict: the text is a tool call written out as JSON. */
  looksLikeToolJson: boolean;
}

export interface ModelDeps {
  pool: Pool;
  openai: OpenAI;
  agents: AgentRegistry;
  /** USD cost of a call, or null for a model without a price. */
  costOf?: (model: string, usage: OpenAI.Responses.ResponseUsage | undefined) => number | null;
}

export const REWRITE_REQUEST =
  'Your last answer was raw tool-call JSON, which the user cannot read. Rewrite it for the user in plain ' +
  'language. Do not call tools and do not output JSON.';

/** Items the API accepts per conversation items call. */
const CONVERSATION_ITEMS_PER_CALL = 20;

export async function callModel(deps: ModelDeps, input: CallModelInput): Promise<CallModelResult> {
  // Heartbeats while the model thinks: if this worker dies, Temporal retries the call elsewhere
  // after the heartbeat timeout instead of the whole start-to-close timeout.
  const context = Context.current();
  const heartbeat = setInterval(() => context.heartbeat(), 2_000);
  try {
    return await callModelOnce(deps, input);
  } finally {
    clearInterval(heartbeat);
  }
}

async function callModelOnce(deps: ModelDeps, input: CallModelInput): Promise<CallModelResult> {
  const agent = getAgent(deps.agents, input.agent);

  // A retry after a call that succeeded (its result lost with the worker) must not call the model
  // again: the recorded call is the answer.
  const recorded = await loadRecordedCall(deps.pool, input, agent);
  if (recorded) return recorded;

  if (input.mode === 'rewrite') {
    await withTransaction(deps.pool, (tx) =>
      appendItems(tx, input.conversationId, [
        {
          itemKey: `t${input.turn}/s${input.step}/rewrite`,
          item: {
            type: 'message',
            role: 'developer',
            content: [{ type: 'input_text', text: REWRITE_REQUEST }],
          },
          turn: input.turn,
          segment: input.segment,
        },
      ]),
    );
  }
  const stepInput = await loadStepInput(deps.pool, input);
  const conversationRow = await deps.pool.query<{ openai_conversation_id: string | null }>(
    'SELECT openai_conversation_id FROM conversations WHERE id = $1',
    [input.conversationId],
  );
  let openaiConversationId = conversationRow.rows[0]?.openai_conversation_id ?? null;

  const base = baseRequest(agent, input);
  let request: OpenAI.Responses.ResponseCreateParamsNonStreaming;
  if (agent.strategy === 'stateless') {
    const history = await loadHistory(deps.pool, input.conversationId, input.segment);
    request = {
      ...base,
      store: false,
      input: sanitizeForInput(trimToBudget(history, agent.historyTokenBudget, stepInput.length)),
    };
  } else if (agent.strategy === 'conversation') {
    openaiConversationId ??= await ensureOpenAIConversation(deps, input);
    request = { ...base, conversation: openaiConversationId, input: stepInput as unknown as InputItem[] };
  } else {
    request = {
      ...base,
      input: stepInput as unknown as InputItem[],
      ...(input.previousResponseId ? { previous_response_id: input.previousResponseId } : {}),
    };
  }

  const started = Date.now();
  let recovered: Recovery | null = null;
  let result: { data: OpenAI.Responses.Response; requestId: string | null };
  try {
    result = await create(deps.openai, request);
  } catch (err) {
    const facts = factsOf(err);
    if (
      facts &&
      agent.strategy === 'previous_response_id' &&
      isPreviousResponseGone(facts, input.previousResponseId)
    ) {
      // The chain is gone (30-day expiry, deletion, store=false): re-send the history from Postgres.
      const history = await loadHistory(deps.pool, input.conversationId, input.segment);
      recovered = agent.recovery === 'instructions' ? 'history_instructions' : 'history_items';
      request = recoveryRequest(agent, base, history, stepInput.length);
      Context.current().log.warn('previous response gone; recovering from the transcript', {
        conversationId: input.conversationId,
        previousResponseId: input.previousResponseId,
        recovery: recovered,
      });
      result = await create(deps.openai, request).catch((e: unknown) => {
        throw toActivityFailure(e);
      });
    } else if (
      facts &&
      agent.strategy === 'conversation' &&
      isConversationGone(facts, openaiConversationId)
    ) {
      openaiConversationId = await recreateOpenAIConversation(deps, input, agent, stepInput.length);
      recovered = 'conversation_recreated';
      request = { ...request, conversation: openaiConversationId };
      result = await create(deps.openai, request).catch((e: unknown) => {
        throw toActivityFailure(e);
      });
    } else {
      throw toActivityFailure(err);
    }
  }

  const response = result.data;
  const usage = {
    inputTokens: response.usage?.input_tokens ?? 0,
    cachedInputTokens: response.usage?.input_tokens_details?.cached_tokens ?? 0,
    outputTokens: response.usage?.output_tokens ?? 0,
  };
  await withTransaction(deps.pool, async (tx) => {
    await appendItems(
      tx,
      input.conversationId,
      response.output.map((item, index) => ({
        itemKey: `t${input.turn}/s${input.step}/o${index}`,
        item: item as unknown as Record<string, unknown>,
        turn: input.turn,
        segment: input.segment,
      })),
    );
    await tx.query(
      `INSERT INTO model_calls (conversation_id, turn, step, response_id, previous_response_id, openai_conversation_id,
         request_id, model, status, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms,
         recovered, recovery, strategy, service_tier, cost_usd, raw)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'completed', $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
       ON CONFLICT (conversation_id, turn, step) DO NOTHING`,
      [
        input.conversationId,
        input.turn,
        input.step,
        response.id,
        request.previous_response_id ?? null,
        openaiConversationId,
        result.requestId,
        response.model,
        usage.inputTokens,
        usage.cachedInputTokens,
        usage.outputTokens,
        response.usage?.output_tokens_details?.reasoning_tokens ?? 0,
        Date.now() - started,
        recovered !== null,
        recovered,
        agent.strategy,
        response.service_tier ?? null,
        deps.costOf?.(response.model, response.usage) ?? null,
        JSON.stringify({ status: response.status, incomplete_details: response.incomplete_details ?? null }),
      ],
    );
  });
  return toResult(
    response.id,
    response.output as unknown as Record<string, unknown>[],
    usage,
    recovered,
    agent,
    input,
  );
}

function toResult(
  responseId: string,
  output: Record<string, unknown>[],
  usage: CallModelResult['usage'],
  recovered: Recovery | null,
  agent: AgentDefinition,
  input: CallModelInput,
): CallModelResult {
  const functionCalls = output
    .filter((i) => i.type === 'function_call')
    .map((i) => ({ callId: String(i.call_id), name: String(i.name), arguments: String(i.arguments) }));
  const text = outputText(output);
  return {
    responseId,
    functionCalls,
    text,
    usage,
    recovered,
    looksLikeToolJson:
      input.mode === 'normal' &&
      functionCalls.length === 0 &&
      looksLikeRawToolCall(
        text,
        agent.tools.map((t) => t.name),
      ),
  };
}

async function create(
  openai: OpenAI,
  request: OpenAI.Responses.ResponseCreateParamsNonStreaming,
): Promise<{ data: OpenAI.Responses.Response; requestId: string | null }> {
  const { data, response } = await openai.responses.create(request).withResponse();
  return { data, requestId: response.headers.get('x-request-id') };
}

function baseRequest(
  agent: AgentDefinition,
  input: CallModelInput,
): Omit<OpenAI.Responses.ResponseCreateParamsNonStreaming, 'input'> {
  const s = agent.modelSettings;
  return {
    model: agent.model,
    instructions: agent.instructions,
    store: s.store ?? true,
    metadata: requestMetadata(input),
    ...(agent.tools.length
      ? {
          tools: agent.tools.map((t) => ({
            type: 'function' as const,
            name: t.name,
            description: t.description,
            parameters: t.parameters as Record<string, unknown>,
            strict: t.strict,
          })),
          tool_choice: input.mode === 'normal' ? ('auto' as const) : ('none' as const),
          parallel_tool_calls: true,
        }
      : {}),
    ...(s.reasoning ? { reasoning: s.reasoning } : {}),
    ...(s.include ? { include: s.include } : {}),
    ...(s.maxOutputTokens ? { max_output_tokens: s.maxOutputTokens } : {}),
    ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
  };
}

/** Who the call is for, within the API's limits (16 pairs, keys ≤ 64, values ≤ 512 characters). */
export function requestMetadata(
  input: Pick<CallModelInput, 'key' | 'turn' | 'step'>,
): Record<string, string> {
  const clip = (v: string) => (v.length > 512 ? v.slice(0, 512) : v);
  return {
    tenant: clip(input.key.tenant),
    channel: clip(input.key.channel),
    conversation: clip(input.key.externalId),
    turn: String(input.turn),
    step: String(input.step),
  };
}

function recoveryRequest(
  agent: AgentDefinition,
  base: Omit<OpenAI.Responses.ResponseCreateParamsNonStreaming, 'input'>,
  history: Record<string, unknown>[],
  newItems: number,
): OpenAI.Responses.ResponseCreateParamsNonStreaming {
  const window = trimToBudget(history, agent.historyTokenBudget, newItems);
  if (agent.recovery === 'instructions') {
    const earlier = sanitizeForInput(window.slice(0, window.length - newItems));
    return {
      ...base,
      instructions:
        `${agent.instructions}\n\nThe conversation so far (restored from the transcript):\n` +
        historyAsText(earlier as unknown as Record<string, unknown>[]),
      input: sanitizeForInput(window.slice(window.length - newItems)),
    };
  }
  return { ...base, input: sanitizeForInput(window) };
}

/**
 * The input of one step: the turn's contextualized messages for step 1; the tool outputs of the
 * previous step after that; the rewrite request for the output guard.
 */
async function loadStepInput(pool: Pool, input: CallModelInput): Promise<Record<string, unknown>[]> {
  const prefix =
    input.mode === 'rewrite'
      ? `t${input.turn}/s${input.step}/rewrite`
      : input.step === 1
        ? `t${input.turn}/in/`
        : `t${input.turn}/s${input.step - 1}/tool/`;
  const { rows } = await pool.query<{ item: Record<string, unknown> }>(
    `SELECT item FROM session_items WHERE session_id = $1 AND turn = $2 AND item_key LIKE $3 || '%' ORDER BY seq`,
    [input.conversationId, input.turn, prefix],
  );
  const items = rows.map((r) => r.item);
  if (input.mode !== 'rewrite' && input.step > 1) {
    // Tools finish in any order; the model gets their outputs in the order it asked for them.
    const calls = (await loadOutputItems(pool, { ...input, step: input.step - 1 }))
      .filter((i) => i.type === 'function_call')
      .map((i) => i.call_id);
    items.sort((a, b) => calls.indexOf(a.call_id) - calls.indexOf(b.call_id));
  }
  // Function outputs are stored with their call's metadata; the API takes call_id and output only.
  return items.map((i) =>
    i.type === 'function_call_output' ? { type: i.type, call_id: i.call_id, output: i.output } : i,
  );
}

/** The current segment's items, oldest first. */
async function loadHistory(
  pool: Pool,
  sessionId: string,
  segment: number,
): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query<{ item: Record<string, unknown> }>(
    'SELECT item FROM session_items WHERE session_id = $1 AND segment = $2 ORDER BY seq',
    [sessionId, segment],
  );
  return rows.map((r) => r.item);
}

/**
 * The `conversation` strategy's OpenAI conversation, created on first use. Two attempts racing both
 * create one; the first to record it wins and the other is deleted.
 */
async function ensureOpenAIConversation(deps: ModelDeps, input: CallModelInput): Promise<string> {
  const created = await deps.openai.conversations
    .create({ metadata: requestMetadata(input) })
    .catch((e: unknown) => {
      throw toActivityFailure(e);
    });
  const { rows } = await deps.pool.query<{ openai_conversation_id: string }>(
    `UPDATE conversations SET openai_conversation_id = COALESCE(openai_conversation_id, $2), updated_at = now()
     WHERE id = $1 RETURNING openai_conversation_id`,
    [input.conversationId, created.id],
  );
  const winner = rows[0]?.openai_conversation_id ?? created.id;
  if (winner !== created.id) await deps.openai.conversations.delete(created.id).catch(() => {});
  return winner;
}

/** A deleted or missing OpenAI conversation is replaced and seeded from the transcript. */
async function recreateOpenAIConversation(
  deps: ModelDeps,
  input: CallModelInput,
  agent: AgentDefinition,
  newItems: number,
): Promise<string> {
  const history = await loadHistory(deps.pool, input.conversationId, input.segment);
  const window = trimToBudget(history, agent.historyTokenBudget, newItems);
  const seed = sanitizeForInput(window.slice(0, window.length - newItems));
  try {
    const created = await deps.openai.conversations.create({ metadata: requestMetadata(input) });
    for (let i = 0; i < seed.length; i += CONVERSATION_ITEMS_PER_CALL) {
      await deps.openai.conversations.items.create(created.id, {
        items: seed.slice(
          i,
          i + CONVERSATION_ITEMS_PER_CALL,
        ) as OpenAI.Conversations.ItemCreateParams['items'],
      });
    }
    await deps.pool.query(
      'UPDATE conversations SET openai_conversation_id = $2, updated_at = now() WHERE id = $1',
      [input.conversationId, created.id],
    );
    return created.id;
  } catch (err) {
    throw toActivityFailure(err);
  }
}

async function loadRecordedCall(
  pool: Pool,
  input: CallModelInput,
  agent: AgentDefinition,
): Promise<CallModelResult | undefined> {
  const { rows } = await pool.query<{
    response_id: string;
    input_tokens: number;
    cached_input_tokens: number;
    output_tokens: number;
    recovery: Recovery | null;
  }>(
    `SELECT response_id, input_tokens, cached_input_tokens, output_tokens, recovery FROM model_calls
     WHERE conversation_id = $1 AND turn = $2 AND step = $3 AND status = 'completed'`,
    [input.conversationId, input.turn, input.step],
  );
  const row = rows[0];
  if (!row) return undefined;
  const output = await loadOutputItems(pool, input);
  return toResult(
    row.response_id,
    output,
    {
      inputTokens: row.input_tokens,
      cachedInputTokens: row.cached_input_tokens,
      outputTokens: row.output_tokens,
    },
    row.recovery,
    agent,
    input,
  );
}

async function loadOutputItems(
  client: Pool | PoolClient,
  input: Pick<CallModelInput, 'conversationId' | 'turn' | 'step'>,
): Promise<Record<string, unknown>[]> {
  const { rows } = await client.query<{ item: Record<string, unknown> }>(
    `SELECT item FROM session_items WHERE session_id = $1 AND turn = $2 AND item_key LIKE $3 || '%' ORDER BY seq`,
    [input.conversationId, input.turn, `t${input.turn}/s${input.step}/o`],
  );
  return rows.map((r) => r.item);
}
