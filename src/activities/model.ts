import { Context } from '@temporalio/activity';
import type OpenAI from 'openai';
import { getAgent, type AgentRegistry } from '../agents/registry.js';
import type { AgentDefinition } from '../agents/types.js';
import { providerFor } from '../providers/index.js';
import type { NormalisedUsage, Recovery } from '../providers/types.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { appendItems, loadItemsByKey, loadSegment } from '../store/transcript.js';
import type { ConversationKey } from '../workflows/ids.js';
import { looksLikeRawToolCall, outputText } from './history.js';

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
  const stepInput = await loadStepInput(deps.pool, input);
  const started = Date.now();
  const log = Context.current().log;
  const call = await providerFor(agent).call({
    pool: deps.pool,
    client: agent.client ?? deps.openai,
    agent,
    step: input,
    stepInput,
    loadHistory: () => loadSegment(deps.pool, input.conversationId, input.segment),
    warn: (message, attributes) => log.warn(message, { conversationId: input.conversationId, ...attributes }),
  });

  const usage = {
    inputTokens: call.usage.input_tokens,
    cachedInputTokens: call.usage.input_tokens_details.cached_tokens,
    outputTokens: call.usage.output_tokens,
  };
  await withTransaction(deps.pool, async (tx) => {
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
    await tx.query(
      `INSERT INTO model_calls (conversation_id, turn, step, response_id, previous_response_id, openai_conversation_id,
         request_id, model, status, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms,
         recovered, recovery, strategy, service_tier, fingerprint, cost_usd, raw)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'completed', $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
       ON CONFLICT (conversation_id, turn, step) DO NOTHING`,
      [
        input.conversationId,
        input.turn,
        input.step,
        call.responseId,
        call.previousResponseId,
        call.openaiConversationId,
        call.requestId,
        call.model,
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
      ],
    );
  });
  return toResult(call.responseId, call.output, usage, call.recovered, agent, input);
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
  }>(
    `SELECT response_id, input_tokens, cached_input_tokens, output_tokens, recovery FROM model_calls
     WHERE conversation_id = $1 AND turn = $2 AND step = $3 AND status = 'completed'`,
    [input.conversationId, input.turn, input.step],
  );
  const row = rows[0];
  if (!row) return undefined;
  const output = await outputOf(pool, input);
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
