import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Pool } from '../../store/pool.js';
import { tenantOf } from '../auth.js';
import { toPage } from '../pagination.js';
import { locateConversation } from '../locateConversation.js';
import type { Routes } from '../route.js';
import { conversationParams } from '../schemas.js';

/**
 * The model calls of a conversation, one per recorded step (`model_calls`): what an operator reads
 * to see which response answered, what it cost and whether it recovered. Identifiers and
 * measurements only: no message content, no upstream error text.
 */

export interface ModelCallsDeps {
  client: Client;
  pool: Pool;
}

export const modelCallShape = z
  .object({
    object: z.literal('conversation.model_call'),
    id: z.string().describe('The call’s id in this listing (pass it as `after` for the next page)'),
    turn: z.number().int(),
    step: z.number().int().describe('The model step within the turn (a tool round is a new step)'),
    agent: z
      .string()
      .nullable()
      .describe('The agent that made the call (null for calls recorded before agents)'),
    model: z.string(),
    status: z.string().describe('completed or incomplete'),
    responseId: z.string().nullable(),
    previousResponseId: z.string().nullable(),
    openaiConversationId: z.string().nullable(),
    requestId: z.string().nullable().describe('The provider’s x-request-id'),
    strategy: z.string().nullable().describe('`<provider>/<strategy>`, e.g. `openai-responses/chained`'),
    recovery: z
      .string()
      .nullable()
      .describe('How the call recovered from lost server-side state, or null (docs/conversations.md)'),
    usage: z.object({
      inputTokens: z.number().int().nullable(),
      cachedInputTokens: z.number().int().nullable(),
      outputTokens: z.number().int().nullable(),
      reasoningTokens: z.number().int().nullable(),
    }),
    costUsd: z.number().nullable().describe('Null when the model has no price'),
    latencyMs: z.number().int().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'ModelCall' });

interface ModelCallRow {
  id: string;
  turn: number;
  step: number;
  agent: string | null;
  model: string;
  status: string;
  response_id: string | null;
  previous_response_id: string | null;
  openai_conversation_id: string | null;
  request_id: string | null;
  strategy: string | null;
  recovery: string | null;
  input_tokens: number | null;
  cached_input_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  cost_usd: string | null;
  latency_ms: number | null;
  created_at: Date;
}

export function toModelCall(r: ModelCallRow): z.output<typeof modelCallShape> {
  return {
    object: 'conversation.model_call',
    id: String(r.id),
    turn: r.turn,
    step: r.step,
    agent: r.agent,
    model: r.model,
    status: r.status,
    responseId: r.response_id,
    previousResponseId: r.previous_response_id,
    openaiConversationId: r.openai_conversation_id,
    requestId: r.request_id,
    strategy: r.strategy,
    recovery: r.recovery,
    usage: {
      inputTokens: r.input_tokens,
      cachedInputTokens: r.cached_input_tokens,
      outputTokens: r.output_tokens,
      reasoningTokens: r.reasoning_tokens,
    },
    costUsd: r.cost_usd === null ? null : Number(r.cost_usd),
    latencyMs: r.latency_ms,
    createdAt: r.created_at.toISOString(),
  };
}

export function modelCallsRoutes(routes: Routes, deps: ModelCallsDeps): void {
  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/model-calls',
      operationId: 'listModelCalls',
      tag: 'Conversations',
      summary: 'The model calls of a conversation, oldest first',
      description:
        'One per recorded model step: response ids, usage, cost, recovery, strategy and agent. ' +
        '`after` is a call id (`last_id` of the previous page).',
      access: 'key',
      params: conversationParams,
      query: z.object({
        after: z
          .string()
          .regex(/^\d{1,18}$/, { message: 'must be a model call id (`last_id` of the previous page)' })
          .optional(),
        limit: z.coerce.number().int().min(1).max(100).default(20),
      }),
      responses: {
        200: {
          description: 'A page of model calls',
          schema: z
            .object({
              object: z.literal('list'),
              data: z.array(modelCallShape),
              first_id: z.string().nullable(),
              last_id: z.string().nullable(),
              has_more: z.boolean(),
            })
            .meta({ id: 'ModelCallList' }),
        },
      },
    },
    async ({ params, query }, req, res) => {
      const tenant = tenantOf(req, res);
      const { workflowId } = await locateConversation(deps, tenant, params.channel, params.conversationId);
      const { rows } = await deps.pool.query<ModelCallRow>(
        `SELECT id, turn, step, agent, model, status, response_id, previous_response_id, openai_conversation_id,
                request_id, strategy, recovery, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
                cost_usd, latency_ms, created_at
           FROM model_calls WHERE conversation_id = $1 AND ($2::bigint IS NULL OR id > $2)
          ORDER BY id LIMIT $3`,
        [workflowId, query.after ?? null, query.limit + 1],
      );
      res.json(toPage(rows.map(toModelCall), query.limit));
    },
  );
}
