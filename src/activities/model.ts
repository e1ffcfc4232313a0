import { ApplicationFailure, Context } from '@temporalio/activity';
import type OpenAI from 'openai';
import { handoffTarget } from '../agents/handoff.js';
import { getAgent, type AgentRegistry } from '../agents/registry.js';
import type { AgentDefinition } from '../agents/types.js';
import { providerFor } from '../providers/index.js';
import type { NormalisedUsage, ProviderCall, Recovery } from '../providers/types.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { traceModelCall } from '../telemetry/modelSpan.js';
import { notifyConversation, StepPublisher } from '../streaming/publisher.js';
import { appendItems, loadItemsByKey, loadSegment } from '../store/transcript.js';
import type { ConversationKey } from '../workflows/ids.js';
import { expandMediaRefs } from '../media/parts.js';
import type { MediaStore } from '../media/store.js';
import { looksLikeRawToolCall, outputText } from './history.js';
import { loadCatchUpItems } from './takeover.js';

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
  /**
   * After a human takeover: the first turn the model's server-side state lacks (customer messages
   * and operator replies). Step 1 sends those turns' items before the turn's own (takeover.ts).
   */
  catchUpFromTurn?: number;
}

export interface FunctionCallFact {
  callId: string;
  name: string;
  arguments: string;
  /** For a transfer tool: the agent it hands the conversation to. Absent in results recorded before. */
  handoff?: string;
}

export type { Recovery } from '../providers/types.js';
export { requestMetadata } from '../providers/request.js';

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
  costOf?: (model: string, usage: NormalisedUsage) => number | null;
  /** Where media references in the transcript are expanded from (src/media/parts.ts). */
  mediaStore?: MediaStore;
  /**
   * Stream model calls to subscribers (stream_events + NOTIFY) where the provider can; default on.
   * Off, calls are plain requests; what the step records and returns is the same either way.
   */
  stream?: boolean;
}

export const REWRITE_REQUEST =
  'Your last answer was raw tool-call JSON, which the user cannot read. Rewrite it for the user in plain ' +
  'language. Do not call tools and do not output JSON.';

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
  // Media references become data URLs here, in the request only: the transcript keeps the reference.
  const expand = (items: Record<string, unknown>[]) =>
    expandMediaRefs(items, input.key.tenant, deps.mediaStore);
  const stepInput = await expand(await loadStepInput(deps.pool, input));
  const started = Date.now();
  const log = Context.current().log;
  const provider = providerFor(agent);
  const warn = (message: string, attributes: Record<string, unknown>) =>
    log.warn(message, { conversationId: input.conversationId, ...attributes });
  // Deltas go to subscribers through Postgres, never through Temporal: the result below is the
  // same small shape whether the call streamed or not.
  const publisher =
    deps.stream !== false && provider.capabilities.streaming
      ? new StepPublisher(deps.pool, { ...input, attempt: Context.current().info.attempt }, warn)
      : undefined;
  const untraced = (a: AgentDefinition) =>
    provider.call({
      pool: deps.pool,
      client: a.client ?? deps.openai,
      agent: a,
      step: input,
      stepInput,
      loadHistory: async () => expand(await loadSegment(deps.pool, input.conversationId, input.segment)),
      warn,
      signal: Context.current().cancellationSignal,
      ...(publisher ? { stream: publisher } : {}),
    });
  const callWith = (a: AgentDefinition) =>
    traceModelCall(
      { provider: provider.name, model: a.model, turn: input.turn, step: input.step, mode: input.mode },
      () => untraced(a),
    );
  let call = await callWith(agent);
  let outcome = outcomeOf(call);
  const larger = largerBudget(agent);
  if (
    outcome.kind === 'silent' &&
    call.incomplete === 'max_output_tokens' &&
    larger &&
    provider.name !== 'openai-conversations'
  ) {
    // A reasoning model spent the budget thinking and wrote nothing. Once more with room to answer;
    // the first response stays an orphan on the server. Under `conversation` that call already
    // appended the input to the conversation, so re-sending it would duplicate it: no second try.
    log.warn('model answered nothing within max_output_tokens; retrying with a larger budget', {
      conversationId: input.conversationId,
      maxOutputTokens: larger.modelSettings.maxOutputTokens,
    });
    call = await callWith(larger);
    outcome = outcomeOf(call);
    call = { ...call, raw: { ...call.raw, retried_for: 'max_output_tokens' } };
  }
  // Every delta is written before the output is: a reader that sees the step's items has seen its
  // stream. (A call that throws leaves its writes to finish on their own; they never throw.)
  await publisher?.close();

  const usage = {
    inputTokens: call.usage.input_tokens,
    cachedInputTokens: call.usage.input_tokens_details.cached_tokens,
    outputTokens: call.usage.output_tokens,
  };
  // The claim: the first attempt to record the step owns it. A later (or overlapping) attempt
  // writes nothing and returns what the owner recorded, so the transcript, model_calls and the
  // workflow's next pointer all agree on one response.
  const won = await withTransaction(deps.pool, async (tx) => {
    const claimed = await tx.query(
      `INSERT INTO model_calls (conversation_id, turn, step, response_id, previous_response_id, openai_conversation_id,
         request_id, model, status, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms,
         recovered, recovery, strategy, service_tier, fingerprint, cost_usd, raw, error, agent)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
       ON CONFLICT (conversation_id, turn, step) DO NOTHING RETURNING id`,
      [
        input.conversationId,
        input.turn,
        input.step,
        call.responseId,
        call.previousResponseId,
        call.openaiConversationId,
        call.requestId,
        call.model,
        call.incomplete ? 'incomplete' : 'completed',
        usage.inputTokens,
        usage.cachedInputTokens,
        usage.outputTokens,
        call.usage.output_tokens_details.reasoning_tokens,
        Date.now() - started,
        call.recovered !== null,
        call.recovered,
        `${agent.provider}/${agent.strategy}`,
        call.serviceTier,
        call.fingerprint,
        deps.costOf?.(call.model, call.usage) ?? null,
        JSON.stringify(call.raw),
        call.incomplete
          ? JSON.stringify({ incomplete: call.incomplete, answered: outcome.kind !== 'silent' })
          : null,
        agent.name,
      ],
    );
    if (claimed.rowCount === 0) return false;
    await appendItems(
      tx,
      input.conversationId,
      call.output.map((item, index) => ({
        itemKey: `t${input.turn}/s${input.step}/o${index}`,
        item,
        turn: input.turn,
        segment: input.segment,
      })),
    );
    if (publisher) await notifyConversation(tx, input.conversationId);
    return true;
  });
  if (!won) {
    log.warn('another attempt recorded this model step first; adopting its response', {
      conversationId: input.conversationId,
      turn: input.turn,
      step: input.step,
      discarded: call.responseId,
    });
    const recorded = await loadRecordedCall(deps.pool, input, agent);
    if (!recorded) throw ApplicationFailure.retryable('model step claimed but not readable', 'ModelStepLost');
    return recorded;
  }
  if (outcome.kind === 'silent') throw silentAnswer(call.incomplete);
  return toResult(call.responseId, call.output, usage, call.recovered, agent, input);
}

/** Whether a call said anything: text or function calls. An incomplete call may still have. */
function outcomeOf(call: Pick<ProviderCall, 'output'>): { kind: 'answered' | 'silent' } {
  const said = outputText(call.output).trim() !== '' || call.output.some((i) => i.type === 'function_call');
  return { kind: said ? 'answered' : 'silent' };
}

/** The agent with four times the output budget (at least 4096), or null when it sets none. */
function largerBudget(agent: AgentDefinition): AgentDefinition | null {
  const max = agent.modelSettings.maxOutputTokens;
  if (!max) return null;
  return { ...agent, modelSettings: { ...agent.modelSettings, maxOutputTokens: Math.max(max * 4, 4096) } };
}

/**
 * A step that produced nothing to say fails the turn for good: the workflow then sends the agent's
 * apology (and records the error) instead of delivering silence.
 */
function silentAnswer(reason: string | null): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    reason === 'content_filter'
      ? 'The model stopped its answer (content_filter).'
      : `The model returned no answer${reason ? ` (incomplete: ${reason})` : ''}.`,
    reason === 'content_filter' ? 'ModelContentFiltered' : 'ModelNoAnswer',
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
    .map((i) => {
      const call = { callId: String(i.call_id), name: String(i.name), arguments: String(i.arguments) };
      const handoff = handoffTarget(agent, call.name);
      return handoff ? { ...call, handoff } : call;
    });
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
  const items = await loadItemsByKey(pool, input.conversationId, input.turn, prefix);
  if (input.mode !== 'rewrite' && input.step > 1) {
    // Tools finish in any order; the model gets their outputs in the order it asked for them.
    const calls = (await outputOf(pool, { ...input, step: input.step - 1 }))
      .filter((i) => i.type === 'function_call')
      .map((i) => i.call_id);
    items.sort((a, b) => calls.indexOf(a.call_id) - calls.indexOf(b.call_id));
  }
  if (input.step === 1 && input.mode === 'normal' && input.catchUpFromTurn !== undefined)
    items.unshift(
      ...(await loadCatchUpItems(
        pool,
        input.conversationId,
        input.segment,
        input.catchUpFromTurn,
        input.turn,
      )),
    );
  // Function outputs are stored with their call's metadata; the API takes call_id and output only.
  return items.map((i) =>
    i.type === 'function_call_output' ? { type: i.type, call_id: i.call_id, output: i.output } : i,
  );
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
    status: string;
    raw: { incomplete_details?: { reason?: string } | null } | null;
  }>(
    `SELECT response_id, input_tokens, cached_input_tokens, output_tokens, recovery, status, raw FROM model_calls
     WHERE conversation_id = $1 AND turn = $2 AND step = $3`,
    [input.conversationId, input.turn, input.step],
  );
  const row = rows[0];
  if (!row) return undefined;
  const output = await outputOf(pool, input);
  if (outcomeOf({ output }).kind === 'silent')
    throw silentAnswer(
      row.raw?.incomplete_details?.reason ?? (row.status === 'completed' ? null : row.status),
    );
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

/** A step's output items. */
function outputOf(pool: Pool, step: Pick<CallModelInput, 'conversationId' | 'turn' | 'step'>) {
  return loadItemsByKey(pool, step.conversationId, step.turn, `t${step.turn}/s${step.step}/o`);
}
