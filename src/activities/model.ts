import type OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/activity';
import { APIConnectionError, APIError } from 'openai';
import { getAgent, type AgentRegistry } from '../agents/registry.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { appendItems, loadTurnItems } from '../store/transcript.js';

export interface CallModelInput {
  conversationId: string;
  agent: string;
  turn: number;
  step: number;
  previousResponseId: string | null;
}

/** Small on purpose: nothing here grows with the conversation. */
export interface CallModelResult {
  responseId: string;
  text: string;
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number };
}

export interface ModelDeps {
  pool: Pool;
  openai: OpenAI;
  agents: AgentRegistry;
}

export async function callModel(deps: ModelDeps, input: CallModelInput): Promise<CallModelResult> {
  const { pool, openai } = deps;
  const agent = getAgent(deps.agents, input.agent);

  // A retry after a call that succeeded (but whose result was lost with the worker) must not call
  // the model again: the recorded call is the answer.
  const recorded = await loadRecordedCall(pool, input);
  if (recorded) return recorded;

  const client = await pool.connect();
  let userItems: Record<string, unknown>[];
  try {
    userItems = await loadTurnItems(client, input.conversationId, input.turn, 'message');
  } finally {
    client.release();
  }
  const started = Date.now();
  let response: OpenAI.Responses.Response;
  let requestId: string | null = null;
  try {
    const { data, response: raw } = await openai.responses
      .create({
        model: agent.model,
        instructions: agent.instructions,
        input: userItems.filter((i) => i.role === 'user') as unknown as OpenAI.Responses.ResponseInputItem[],
        previous_response_id: input.previousResponseId,
        store: true,
      })
      .withResponse();
    response = data;
    requestId = raw.headers.get('x-request-id');
  } catch (err) {
    throw toActivityFailure(err);
  }

  const text = response.output_text;
  const usage = {
    inputTokens: response.usage?.input_tokens ?? 0,
    cachedInputTokens: response.usage?.input_tokens_details?.cached_tokens ?? 0,
    outputTokens: response.usage?.output_tokens ?? 0,
  };
  await withTransaction(pool, async (tx) => {
    await appendItems(
      tx,
      input.conversationId,
      response.output.map((item, index) => ({
        itemKey: `t${input.turn}/s${input.step}/o${index}`,
        item: item as unknown as Record<string, unknown>,
        turn: input.turn,
      })),
    );
    await tx.query(
      `INSERT INTO model_calls (conversation_id, turn, step, response_id, previous_response_id, request_id, model,
         status, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, latency_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'completed', $8, $9, $10, $11, $12)
       ON CONFLICT (conversation_id, turn, step) DO NOTHING`,
      [
        input.conversationId,
        input.turn,
        input.step,
        response.id,
        input.previousResponseId,
        requestId,
        response.model,
        usage.inputTokens,
        usage.cachedInputTokens,
        usage.outputTokens,
        response.usage?.output_tokens_details?.reasoning_tokens ?? 0,
        Date.now() - started,
      ],
    );
    await tx.query('UPDATE conversations SET last_response_id = $2, updated_at = now() WHERE id = $1', [
      input.conversationId,
      response.id,
    ]);
  });
  return { responseId: response.id, text, usage };
}

async function loadRecordedCall(pool: Pool, input: CallModelInput): Promise<CallModelResult | undefined> {
  const { rows } = await pool.query<{
    response_id: string;
    input_tokens: number;
    cached_input_tokens: number;
    output_tokens: number;
  }>(
    `SELECT response_id, input_tokens, cached_input_tokens, output_tokens FROM model_calls
     WHERE conversation_id = $1 AND turn = $2 AND step = $3 AND status = 'completed'`,
    [input.conversationId, input.turn, input.step],
  );
  const row = rows[0];
  if (!row) return undefined;
  const client = await pool.connect();
  try {
    const messages = await loadTurnItems(client, input.conversationId, input.turn, 'message');
    const text = messages
      .filter((m) => m.role === 'assistant')
      .flatMap((m) => (m.content as { type: string; text?: string }[]) ?? [])
      .filter((c) => c.type === 'output_text')
      .map((c) => c.text ?? '')
      .join('');
    return {
      responseId: row.response_id,
      text,
      usage: {
        inputTokens: row.input_tokens,
        cachedInputTokens: row.cached_input_tokens,
        outputTokens: row.output_tokens,
      },
    };
  } finally {
    client.release();
  }
}

/**
 * The SDK's own retries are off (maxRetries 0); Temporal retries the activity. Only failures that
 * can succeed later are retried, and the server's Retry-After becomes the next delay.
 */
export function toActivityFailure(err: unknown): ApplicationFailure {
  if (err instanceof APIConnectionError) {
    return ApplicationFailure.retryable(err.message, 'OpenAIConnectionError');
  }
  if (err instanceof APIError) {
    const status = err.status ?? 0;
    const code = typeof err.code === 'string' ? err.code : null;
    const quota = code === 'insufficient_quota' || code === 'credit_balance_exhausted';
    const retryable = !quota && (status === 408 || status === 409 || status === 429 || status >= 500);
    const delayMs = retryAfterMs(err.headers);
    return ApplicationFailure.create({
      message: `OpenAI ${status}${code ? ` ${code}` : ''}: ${err.message}`,
      type: `OpenAI${status}`,
      nonRetryable: !retryable,
      ...(retryable && delayMs !== undefined ? { nextRetryDelay: delayMs } : {}),
      details: [{ status, code, requestId: err.requestID ?? null }],
    });
  }
  return ApplicationFailure.retryable(err instanceof Error ? err.message : String(err), 'UnexpectedError');
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const secs = Number(headers?.get('retry-after'));
  if (Number.isFinite(secs) && secs > 0) return secs * 1000;
  return undefined;
}
