import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { z } from 'zod';
import type { Pool } from '../../store/pool.js';
import { conversationUsage, tenantUsage } from '../../store/usage.js';
import type { conversationWorkflow } from '../../workflows/conversation.js';
import type { purgeWorkflow } from '../../workflows/purge.js';
import { purgeWorkflowId, readPurgeRecord } from '../../activities/purge.js';
import { closeSignal, resetSignal, stateQuery } from '../../workflows/messages.js';
import { tenantOf } from '../auth.js';
import { deliveryShape, listDeliveries } from '../deliveries.js';
import {
  itemsPage,
  listConversations,
  markClosed,
  publicError,
  toApiItem,
  toSummary,
  type ConversationRow,
} from '../conversationStore.js';
import { conflict, notFoundError } from '../errors.js';
import { conversationCursor, toPage } from '../pagination.js';
import { locateConversation } from '../locateConversation.js';
import type { Routes } from '../route.js';
import { STATE_QUERY_BOUND_MS, withinMs } from '../boundedQuery.js';
import { conversationParams, errorBody, pathId, queryFlag, usageTotals } from '../schemas.js';
import { links } from './messages.js';
import { humanModeShape } from './operators.js';

export interface ConversationsDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  agent: string;
  /** How long a purge request waits for the purge to finish before answering 202. */
  replyWaitMs: number;
}

const conversationState = z
  .object({
    object: z.literal('conversation'),
    workflowId: z.string(),
    channel: z.string(),
    conversationId: z.string(),
    run: z
      .enum(['open', 'ended', 'none'])
      .describe('Whether a workflow run is open; if not, state comes from Postgres'),
    status: z.string().describe('idle, collecting, running or closed'),
    agent: z.string(),
    strategy: z.string(),
    turns: z.number().int(),
    segment: z.number().int(),
    inboxLength: z.number().int(),
    lastResponseId: z.string().nullable(),
    lastError: z.string().nullable(),
    humanMode: humanModeShape.nullable().describe('Set while an operator has the conversation (takeover)'),
    pendingApprovals: z
      .array(
        z.object({
          callId: z.string(),
          tool: z.string(),
          arguments: z
            .string()
            .describe('The JSON arguments, clipped to 2,000 characters (whole in `.../approvals`)'),
          turn: z.number().int(),
          requestedAt: z.string(),
          expiresAt: z.string(),
        }),
      )
      .describe('Tool calls waiting for an operator (`POST .../approvals/{callId}`)'),
    links: z.object({ conversation: z.string(), items: z.string(), events: z.string() }),
  })
  .meta({ id: 'ConversationState' });

const item = z
  .object({
    object: z.literal('conversation.item'),
    id: z.string().describe('The item’s sequence number in the transcript'),
    turn: z.number().int().nullable(),
    segment: z.number().int(),
    createdAt: z.string(),
    item: z.record(z.string(), z.unknown()).describe('The item in the Responses API wire shape'),
    operator: z
      .string()
      .optional()
      .describe(
        "An operator's reply (human takeover): who wrote it. Absent on the agent's and customer's items",
      ),
  })
  .meta({ id: 'ConversationItem' });

const listShape = <T extends z.ZodType>(data: T, id: string) =>
  z
    .object({
      object: z.literal('list'),
      data: z.array(data),
      first_id: z.string().nullable(),
      last_id: z.string().nullable(),
      has_more: z.boolean(),
    })
    .meta({ id });

const summary = z
  .object({
    object: z.literal('conversation'),
    id: z.string(),
    workflowId: z.string(),
    channel: z.string(),
    conversationId: z.string(),
    agent: z.string(),
    status: z.string(),
    turns: z.number().int(),
    lastError: z.string().nullable(),
    humanMode: z.boolean().describe('An operator has the conversation'),
    failedTurns: z.number().int().describe('Turns that failed (the customer got the apology)'),
    costUsd: z.number().describe('Sum over the model calls with a known price'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'ConversationSummary' });

/** `?flag=true|false` kept undefined when absent (a filter that is off). */
const queryFlagOptional = z
  .enum(['true', 'false'])
  .optional()
  .transform((v) => (v === undefined ? undefined : v === 'true'));

/** Human mode as Postgres has it, for a conversation with no open run. */
async function humanModeOf(pool: Pool, workflowId: string) {
  const { rows } = await pool.query<{ operator: string | null; reason: string | null; since: Date | null }>(
    'SELECT human_operator AS operator, human_reason AS reason, human_since AS since FROM conversations WHERE id = $1',
    [workflowId],
  );
  const r = rows[0];
  const operator = r?.operator ?? 'unknown';
  return {
    operator,
    reason: r?.reason ?? null,
    since: (r?.since ?? new Date(0)).toISOString(),
    by: operator.startsWith('tool:') ? ('tool' as const) : ('operator' as const),
  };
}

const limit = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt);

const closed = z
  .object({
    workflowId: z.string(),
    status: z.enum(['closing', 'closed', 'purging']),
    purged: z.boolean(),
    itemsDeleted: z.number().int(),
  })
  .meta({ id: 'ConversationClosed' });

const purgeRecord = z
  .object({
    object: z.literal('conversation.purge'),
    workflowId: z.string(),
    status: z.enum(['running', 'completed', 'partial']),
    itemsDeleted: z.number().int(),
    runsDeleted: z.number().int(),
    requestedAt: z.string(),
    completedAt: z.string().nullable(),
    openai: z.array(
      z.object({
        kind: z.enum(['response', 'conversation']),
        id: z.string(),
        status: z.enum(['pending', 'deleted', 'failed']),
        detail: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'PurgeRecord' });

const tenantUsageShape = usageTotals
  .extend({ tenant: z.string(), byModel: z.array(usageTotals.extend({ model: z.string() })) })
  .meta({ id: 'TenantUsage' });

export function conversationsRoutes(routes: Routes, deps: ConversationsDeps): void {
  /** The conversation a request names, within the caller's tenant; 404 when it has never existed. */
  async function locate(
    req: Parameters<typeof tenantOf>[0],
    res: Parameters<typeof tenantOf>[1],
    p: z.output<typeof conversationParams>,
  ) {
    const tenant = tenantOf(req, res);
    const { workflowId, row, run } = await locateConversation(deps, tenant, p.channel, p.conversationId);
    res.locals.log = res.locals.log?.child({ workflowId });
    return { tenant, workflowId, row, run };
  }

  routes.add(
    {
      method: 'get',
      path: '/v1/conversations',
      operationId: 'listConversations',
      tag: 'Conversations',
      summary: "List the tenant's conversations, newest first",
      description: 'From Postgres. A conversation is listed once its first turn has started.',
      access: 'key',
      query: z.object({
        channel: pathId.optional(),
        status: z.enum(['active', 'closed']).optional(),
        humanMode: queryFlagOptional.describe('Only conversations an operator has (true) or not (false)'),
        pendingApprovals: queryFlagOptional.describe(
          'Only conversations with (true) or without (false) a pending tool approval',
        ),
        failedTurns: queryFlagOptional.describe(
          'Only conversations with (true) or without (false) a failed turn (one the customer got the apology for)',
        ),
        minCostUsd: z.coerce
          .number()
          .min(0)
          .max(1e9)
          .optional()
          .describe('Only conversations whose model calls cost at least this many US dollars (priced calls)'),
        cursor: conversationCursor.optional().describe('`next_cursor` of the previous page'),
        limit: limit(100, 20),
      }),
      responses: {
        200: {
          description: 'A page of conversations',
          schema: listShape(summary, 'ConversationList').extend({ next_cursor: z.string().nullable() }),
        },
      },
    },
    async ({ query }, req, res) => {
      const tenant = tenantOf(req, res);
      const { rows, nextCursor } = await listConversations(deps.pool, {
        tenant,
        limit: query.limit,
        ...(query.channel ? { channel: query.channel } : {}),
        ...(query.status ? { status: query.status } : {}),
        ...(query.humanMode !== undefined ? { humanMode: query.humanMode } : {}),
        ...(query.pendingApprovals !== undefined ? { pendingApprovals: query.pendingApprovals } : {}),
        ...(query.failedTurns !== undefined ? { failedTurns: query.failedTurns } : {}),
        ...(query.minCostUsd !== undefined ? { minCostUsd: query.minCostUsd } : {}),
        ...(query.cursor ? { after: query.cursor } : {}),
      });
      const data = rows.map(toSummary);
      res.json({
        object: 'list',
        data,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        has_more: nextCursor !== null,
        next_cursor: nextCursor,
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}',
      operationId: 'getConversation',
      tag: 'Conversations',
      summary: 'State of a conversation',
      description:
        "The workflow's `state` query while a run is open; otherwise, or while a turn holds the run (status `running`), the Postgres record.",
      access: 'key',
      params: conversationParams,
      responses: { 200: { description: 'The state', schema: conversationState } },
    },
    async ({ params }, req, res) => {
      const { workflowId, row, run } = await locate(req, res, params);
      const common = {
        object: 'conversation',
        workflowId,
        channel: params.channel,
        conversationId: params.conversationId,
        run,
        links: links(params.channel, params.conversationId),
      };
      const query = () =>
        deps.client.workflow.getHandle<typeof conversationWorkflow>(workflowId).query(stateQuery);
      // A turn in one hop holds the workflow task, and the query waits for it: Postgres answers.
      const s =
        run !== 'open' ? undefined : row ? await withinMs(query(), STATE_QUERY_BOUND_MS) : await query();
      if (s) {
        res.json({
          ...common,
          status: s.status,
          agent: s.agent,
          strategy: s.strategy,
          turns: s.turns,
          segment: s.segment,
          inboxLength: s.inboxLength,
          lastResponseId: s.lastResponseId,
          lastError: publicError(s.lastError),
          humanMode: s.humanMode ?? null,
          pendingApprovals: (s.pendingApprovals ?? []).map(
            ({ callId, tool, arguments: args, turn, requestedAt, expiresAt }) => ({
              callId,
              tool,
              arguments: args,
              turn,
              requestedAt,
              expiresAt,
            }),
          ),
        });
        return;
      }
      const r = row as ConversationRow;
      res.json({
        ...common,
        status: run === 'open' ? 'running' : r.status === 'closed' ? 'closed' : 'idle',
        agent: r.agent,
        strategy: r.strategy,
        turns: r.turns,
        segment: r.segment,
        inboxLength: 0,
        lastResponseId: r.last_response_id,
        lastError: publicError(r.last_error),
        humanMode: r.human_mode ? await humanModeOf(deps.pool, workflowId) : null,
        pendingApprovals: [],
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/items',
      operationId: 'listItems',
      tag: 'Conversations',
      summary: 'The transcript, a page at a time',
      description:
        'Items from Postgres in the OpenAI list shape. `after` is an item id (`last_id` of the previous page).',
      access: 'key',
      params: conversationParams,
      query: z.object({
        after: z
          .string()
          .regex(/^\d{1,18}$/, { message: 'must be an item id' })
          .optional(),
        limit: limit(100, 20),
        order: z.enum(['asc', 'desc']).default('asc'),
      }),
      responses: { 200: { description: 'A page of items', schema: listShape(item, 'ConversationItemList') } },
    },
    async ({ params, query }, req, res) => {
      const { workflowId } = await locate(req, res, params);
      const rows = await itemsPage(deps.pool, {
        sessionId: workflowId,
        order: query.order,
        limit: query.limit + 1,
        ...(query.after ? { after: Number(query.after) } : {}),
      });
      res.json(toPage(rows.map(toApiItem), query.limit));
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/conversations/{channel}/{conversationId}/reset',
      operationId: 'resetConversation',
      tag: 'Conversations',
      summary: 'Start a new transcript segment',
      description: 'The model forgets; earlier items stay in Postgres. 409 for a closed conversation.',
      access: 'key',
      params: conversationParams,
      responses: {
        202: {
          description: 'The reset is queued',
          schema: z.object({ workflowId: z.string(), status: z.literal('reset_requested') }),
        },
        409: { description: 'The conversation is closed (`conversation_closed`)', schema: errorBody },
      },
    },
    async ({ params }, req, res) => {
      const { tenant, workflowId, row, run } = await locate(req, res, params);
      const closed =
        run === 'open'
          ? (await deps.client.workflow.getHandle(workflowId).query(stateQuery)).status === 'closed'
          : row?.status === 'closed';
      if (closed)
        throw conflict(
          'The conversation is closed; send a message to reopen it first.',
          'conversation_closed',
        );
      // With no open run, signal-with-start: the new run restores from Postgres, then resets.
      await deps.client.workflow.signalWithStart<typeof conversationWorkflow, []>('conversationWorkflow', {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [{ tenant, channel: params.channel, externalId: params.conversationId, agent: deps.agent }],
        signal: resetSignal,
        signalArgs: [],
      });
      res.status(202).json({ workflowId, status: 'reset_requested' });
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/v1/conversations/{channel}/{conversationId}',
      operationId: 'closeConversation',
      tag: 'Conversations',
      summary: 'Close a conversation (and with purge=true delete it everywhere)',
      description:
        'Signals `close`: queued messages are still answered, then the run ends. With `purge=true` it starts ' +
        'the purge workflow, which closes the run first, then deletes the transcript items, tool arguments and ' +
        'outputs and error records from Postgres, the stored responses and conversation objects from OpenAI, and ' +
        'the runs from Temporal; usage records and message ids stay. Answers 200 when the purge finished within ' +
        'REPLY_WAIT_MS, else 202 `purging` (it goes on, retrying while OpenAI is down): read the purge record.',
      access: 'key',
      params: conversationParams,
      query: z.object({ purge: queryFlag.describe('Also delete the transcript and the OpenAI copies') }),
      responses: {
        200: { description: 'Closed (and purged)', schema: closed },
        202: { description: 'Closing or purging: it goes on in the background', schema: closed },
      },
    },
    async ({ params, query }, req, res) => {
      const { tenant, workflowId, run } = await locate(req, res, params);
      if (query.purge) {
        const purgeId = purgeWorkflowId(workflowId);
        await deps.client.workflow.start<typeof purgeWorkflow>('purgeWorkflow', {
          workflowId: purgeId,
          taskQueue: deps.taskQueue,
          args: [{ conversationId: workflowId, tenant }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        let timer: NodeJS.Timeout | undefined;
        const result = await Promise.race([
          deps.client.workflow.getHandle<typeof purgeWorkflow>(purgeId).result(),
          new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), deps.replyWaitMs))),
        ]).finally(() => clearTimeout(timer));
        if (!result) {
          res.status(202).json({ workflowId, status: 'purging', purged: false, itemsDeleted: 0 });
          return;
        }
        res.locals.log?.info({ items: result.itemsDeleted, status: result.status }, 'conversation purged');
        res
          .status(200)
          .json({ workflowId, status: 'closed', purged: true, itemsDeleted: result.itemsDeleted });
        return;
      }
      // The run may end between `locate` and the signal (a close already under way): then it is
      // closed like one that had already ended.
      const signalled =
        run === 'open' &&
        (await deps.client.workflow
          .getHandle(workflowId)
          .signal(closeSignal)
          .then(
            () => true,
            (err: unknown) => {
              if (err instanceof WorkflowNotFoundError) return false;
              throw err;
            },
          ));
      if (signalled) {
        res.status(202).json({ workflowId, status: 'closing', purged: false, itemsDeleted: 0 });
        return;
      }
      await markClosed(deps.pool, workflowId);
      res.status(200).json({ workflowId, status: 'closed', purged: false, itemsDeleted: 0 });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/purge',
      operationId: 'getPurge',
      tag: 'Conversations',
      summary: 'What the last purge of a conversation deleted',
      description:
        'Status (`running`, `completed`, or `partial` when OpenAI refused to delete an object: purge again), ' +
        'items and runs deleted, and each OpenAI object (stored response, conversation) with its status.',
      access: 'key',
      params: conversationParams,
      responses: { 200: { description: 'The purge record', schema: purgeRecord } },
    },
    async ({ params }, req, res) => {
      const { workflowId } = await locate(req, res, params);
      const record = await readPurgeRecord(deps.pool, workflowId);
      if (!record)
        throw notFoundError(
          `${params.channel}/${params.conversationId} was never purged.`,
          'purge_not_found',
        );
      res.json(record);
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/deliveries',
      operationId: 'listDeliveries',
      tag: 'Conversations',
      summary: 'What the conversation sent out, message by message',
      description:
        'The delivery ledger, newest turn first: each turn’s channel actions in the order the tools sent ' +
        'them, then its text. `status` is the ledger (sent, blocked outside the WhatsApp window, failed); ' +
        '`providerStatus` is what the channel reported later (delivered, read, failed with `errorCode`).',
      access: 'key',
      params: conversationParams,
      query: z.object({ limit: limit(500, 100) }),
      responses: {
        200: {
          description: 'The deliveries',
          schema: z.object({ object: z.literal('list'), data: z.array(deliveryShape) }).meta({
            id: 'ConversationDeliveryList',
          }),
        },
      },
    },
    async ({ params, query }, req, res) => {
      const { workflowId } = await locate(req, res, params);
      res.json({ object: 'list', data: await listDeliveries(deps.pool, workflowId, query.limit) });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/usage',
      operationId: 'conversationUsage',
      tag: 'Usage',
      summary: 'Tokens and cost of a conversation',
      access: 'key',
      params: conversationParams,
      responses: { 200: { description: 'Totals over every model call', schema: usageTotals } },
    },
    async ({ params }, req, res) => {
      const { workflowId } = await locate(req, res, params);
      res.json(await conversationUsage(deps.pool, workflowId));
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/usage',
      operationId: 'tenantUsage',
      tag: 'Usage',
      summary: "Tokens and cost of the caller's tenant, by model",
      access: 'key',
      query: z.object({
        from: z.iso.datetime({ offset: true }).optional().describe('Calls at or after this instant'),
        to: z.iso.datetime({ offset: true }).optional().describe('Calls before this instant'),
      }),
      responses: { 200: { description: 'Totals and per-model totals', schema: tenantUsageShape } },
    },
    async ({ query }, req, res) => {
      const tenant = tenantOf(req, res);
      res.json(
        await tenantUsage(deps.pool, tenant, {
          ...(query.from ? { from: new Date(query.from) } : {}),
          ...(query.to ? { to: new Date(query.to) } : {}),
        }),
      );
    },
  );
}
