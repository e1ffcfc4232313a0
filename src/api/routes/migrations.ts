import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { withinMs } from '../boundedQuery.js';
import { DEFAULT_OPTIONS, type MigrationProgress } from '../../migration/types.js';
import { saveSourceKey } from '../../migration/sourceKeys.js';
import type { Pool } from '../../store/pool.js';
import type { migrationWorkflow, MigrationInput } from '../../workflows/migration.js';
import {
  cancelMigrationSignal,
  migrationProgressQuery,
  migrationWorkflowId,
  pauseMigrationSignal,
  resumeMigrationSignal,
} from '../../workflows/migrationMessages.js';
import { conflict, notFoundError } from '../errors.js';
import type { Routes } from '../route.js';
import { errorBody } from '../schemas.js';

/**
 * Operators' routes for batch migrations (admin key): start one, read its progress, pause, resume,
 * cancel, list its failures. A migration is the workflow `migration:{name}`; file paths in a source
 * are read by the workers, so only the admin key may name them.
 */

export interface MigrationsDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
}

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { message: "1-100 letters, digits, '.', '_' or '-'" });
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, {
  message: 'a plain table or column name',
});
const mapping = z.union([
  z.object({ file: z.string().min(1) }).strict(),
  z
    .object({ table: identifier, userColumn: identifier.optional(), threadColumn: identifier.optional() })
    .strict(),
]);

// Write-only: kept in Postgres for the activities, never in the workflow input or a response.
const sourceKey = z
  .string()
  .min(1)
  .max(512)
  // API keys are printable ASCII: a control character (NUL included) is a typo, not a key.
  .regex(/^[\x21-\x7E]+$/, 'must be printable ASCII without spaces')
  .optional()
  .describe(
    "The key for `baseUrl`. The worker's OpenAI key is sent only to the configured OpenAI endpoint; " +
      'another baseUrl without apiKey is called without an Authorization header.',
  );

// Inline lists are bounded so that a body of the longest list of short ids fits the body limit;
// longer lists go in a file.
const chainList = z
  .array(
    z.object({ externalId: z.string().min(1).max(256), responseId: z.string().min(1).max(200) }).strict(),
  )
  .max(1000);

const CHAIN_SOURCES = ['file', 'chains'] as const;

export const migrationSource = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('assistants-api'),
        baseUrl: z.url().optional(),
        apiKey: sourceKey,
        threadIds: z.array(z.string().min(1).max(200)).max(1000).optional(),
        mapping: mapping.optional(),
        toolCalls: z.boolean().optional(),
      })
      .strict(),
    z
      .object({ kind: z.literal('assistants-export'), file: z.string().min(1), mapping: mapping.optional() })
      .strict(),
    z
      .object({
        kind: z.literal('response-chains'),
        file: z.string().min(1).optional(),
        chains: chainList.optional(),
        baseUrl: z.url().optional(),
        apiKey: sourceKey,
      })
      .strict()
      .refine((s) => CHAIN_SOURCES.some((k) => s[k] !== undefined), { message: 'give file or chains' })
      // What the refine checks, in the document's words.
      .meta({ anyOf: CHAIN_SOURCES.map((k) => ({ required: [k] })) }),
    z
      .object({
        kind: z.literal('messages-table'),
        table: identifier,
        columns: z
          .object({
            key: identifier,
            role: identifier,
            content: identifier,
            createdAt: identifier,
            id: identifier,
          })
          .partial()
          .strict()
          .optional(),
      })
      .strict(),
  ])
  .meta({ id: 'MigrationSource' });

export const migrationInput = z
  .object({
    name: name.optional(),
    source: migrationSource,
    target: z
      .object({
        tenant: z.string().min(1).max(64).default('default'),
        channel: z.string().min(1).max(64).default('web'),
        agent: z.string().min(1).max(64).default('assistant'),
        seedLastItems: z.number().int().min(1).max(1000).optional(),
      })
      .strict()
      .default({ tenant: 'default', channel: 'web', agent: 'assistant' }),
    options: z
      .object({
        dryRun: z.boolean().default(DEFAULT_OPTIONS.dryRun),
        window: z.number().int().min(1).max(100).default(DEFAULT_OPTIONS.window),
        continueAsNewEvery: z.number().int().min(10).max(5000).default(DEFAULT_OPTIONS.continueAsNewEvery),
        pageSize: z.number().int().min(1).max(1000).default(DEFAULT_OPTIONS.pageSize),
      })
      .strict()
      .default(DEFAULT_OPTIONS),
  })
  .strict()
  .meta({ id: 'MigrationInput' });

export const migrationProgress = z
  .object({
    object: z.literal('migration'),
    id: z.string(),
    migrationId: z.string(),
    status: z.enum([
      'preparing',
      'running',
      'paused',
      'cancelling',
      'cancelled',
      'completed',
      'failed',
      'terminated',
    ]),
    dryRun: z.boolean(),
    total: z.number().nullable(),
    done: z.number(),
    failed: z.number(),
    skipped: z.number(),
    inFlight: z.number(),
    items: z.number(),
    rate: z.number(),
    etaSeconds: z.number().nullable(),
    elapsedSeconds: z.number(),
    sourceIssues: z.object({ count: z.number(), first: z.array(z.string()) }),
    recentFailures: z.array(z.object({ unitId: z.string(), reason: z.string() })),
  })
  .meta({ id: 'Migration' });

// The name, or the workflow id `migration:{name}` (the progress' `migrationId`).
const params = z.object({
  migrationId: z.string().regex(/^(migration:)?[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, {
    message: "the migration's name (1-100 letters, digits, '.', '_' or '-') or its migrationId",
  }),
});
const idOf = (n: string) => migrationWorkflowId(n.replace(/^migration:/, ''));

async function progressOf(
  client: Client,
  pool: Pool,
  nameOrId: string,
): Promise<z.infer<typeof migrationProgress>> {
  const migrationName = nameOrId.replace(/^migration:/, '');
  const handle = client.workflow.getHandle<typeof migrationWorkflow>(idOf(migrationName));
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw notFoundError(`No migration ${migrationName}.`, 'migration_not_found');
    throw err;
  }
  const status = description.status.name;
  let progress: MigrationProgress;
  if (status === 'COMPLETED') progress = await handle.result();
  else if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') {
    const queried = await withinMs(handle.query(migrationProgressQuery), MIGRATION_QUERY_BOUND_MS);
    if (!queried) return { ...(await progressFromUnits(pool, idOf(migrationName))), id: migrationName };
    progress = queried;
  } else {
    // Failed or terminated from outside: the counters died with it; Postgres still has each unit.
    return {
      ...emptyProgress(idOf(migrationName)),
      id: migrationName,
      status: status === 'TERMINATED' ? 'terminated' : 'failed',
    };
  }
  return { object: 'migration', id: migrationName, ...progress };
}

async function runStatusOf(client: Client, workflowId: string): Promise<string | null> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/**
 * How long progress waits for the workflow's query. A query needs a worker between workflow tasks;
 * with every worker busy (batches hold their task while units run) or none, it would wait for
 * Temporal's own query timeout and fail: past this bound the answer comes from Postgres.
 */
const MIGRATION_QUERY_BOUND_MS = 3_000;

/** Progress from each unit's recorded outcome: exact counts, without rate, ETA or in-flight units. */
async function progressFromUnits(
  pool: Pool,
  migrationId: string,
): Promise<Omit<z.infer<typeof migrationProgress>, 'id'>> {
  const { rows } = await pool.query<{ status: string; n: string; items: string; started: Date }>(
    `SELECT status, count(*) AS n, coalesce(sum(items), 0) AS items, min(updated_at) AS started
       FROM migration_units WHERE migration_id = $1 GROUP BY status`,
    [migrationId],
  );
  const count = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
  const total = rows.reduce((n, r) => n + Number(r.n), 0);
  const started = rows.map((r) => r.started.getTime()).reduce((a, b) => Math.min(a, b), Date.now());
  return {
    ...emptyProgress(migrationId),
    status: 'running',
    total: rows.length ? total : null,
    done: count('done'),
    failed: count('failed'),
    skipped: count('skipped'),
    items: rows.reduce((n, r) => n + Number(r.items), 0),
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
}

function emptyProgress(migrationId: string): Omit<z.infer<typeof migrationProgress>, 'id' | 'status'> {
  return {
    object: 'migration',
    migrationId,
    dryRun: false,
    total: null,
    done: 0,
    failed: 0,
    skipped: 0,
    inFlight: 0,
    items: 0,
    rate: 0,
    etaSeconds: null,
    elapsedSeconds: 0,
    sourceIssues: { count: 0, first: [] },
    recentFailures: [],
  };
}

export function migrationsRoutes(routes: Routes, deps: MigrationsDeps): void {
  routes.add(
    {
      method: 'post',
      path: '/v1/migrations',
      operationId: 'startMigration',
      tag: 'Migrations',
      summary: 'Start a migration',
      description:
        'Stages the source, then migrates each thread, response chain or conversation key into the transcript. ' +
        'Runs as the workflow migration:{name}; a rerun over the same source adds nothing.',
      access: 'admin',
      body: migrationInput,
      responses: {
        201: {
          description: 'Started',
          schema: migrationProgress,
          links: Object.fromEntries(
            [
              'getMigration',
              'listMigrationFailures',
              'pauseMigration',
              'resumeMigration',
              'cancelMigration',
            ].map((operationId) => [
              operationId,
              { operationId, parameters: { migrationId: '$response.body#/id' } },
            ]),
          ),
        },
        409: { description: 'A migration with this name is running' },
      },
    },
    async ({ body }, _req, res) => {
      const migrationName = body.name ?? `mig-${Date.now().toString(36)}`;
      const { apiKey, ...source } = body.source as typeof body.source & { apiKey?: string };
      const input: MigrationInput = {
        source: source as MigrationInput['source'],
        target: body.target,
        options: body.options,
      };
      try {
        if ((await runStatusOf(deps.client, idOf(migrationName))) === 'RUNNING')
          throw new WorkflowExecutionAlreadyStartedError('running', idOf(migrationName), 'migrationWorkflow');
        await saveSourceKey(deps.pool, idOf(migrationName), apiKey);
        await deps.client.workflow.start('migrationWorkflow', {
          workflowId: idOf(migrationName),
          taskQueue: deps.taskQueue,
          args: [input],
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          throw conflict(`Migration ${migrationName} is already running.`, 'migration_running');
        }
        throw err;
      }
      res.locals.log?.info({ migration: migrationName, source: body.source.kind }, 'migration started');
      res.status(201).json({
        ...emptyProgress(idOf(migrationName)),
        id: migrationName,
        status: 'preparing',
        dryRun: body.options.dryRun,
      });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/migrations/{migrationId}',
      operationId: 'getMigration',
      tag: 'Migrations',
      summary: 'Progress of a migration',
      description:
        'done, failed, skipped, items, rate (units/s) and ETA, from the workflow’s progress query.',
      access: 'admin',
      params,
      responses: {
        200: { description: 'Progress', schema: migrationProgress },
        404: { description: 'Unknown' },
      },
    },
    async ({ params: p }, _req, res) => {
      res.json(await progressOf(deps.client, deps.pool, p.migrationId));
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/migrations/{migrationId}/failures',
      operationId: 'listMigrationFailures',
      tag: 'Migrations',
      summary: 'Failed units and unreadable source lines, with reasons',
      access: 'admin',
      params,
      query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      responses: {
        200: {
          description: 'Failures',
          schema: z.object({
            object: z.literal('list'),
            data: z.array(
              z.object({
                unit: z.string().nullable(),
                user: z.string().nullable(),
                location: z.string().nullable(),
                reason: z.string(),
              }),
            ),
          }),
        },
      },
    },
    async ({ params: p, query }, _req, res) => {
      const id = idOf(p.migrationId);
      const { rows } = await deps.pool.query<{
        unit: string | null;
        user: string | null;
        location: string | null;
        reason: string;
      }>(
        `(SELECT unit_id AS unit, external_id AS "user", NULL AS location, coalesce(reason, '') AS reason
            FROM migration_units WHERE migration_id = $1 AND status = 'failed' ORDER BY unit_id LIMIT $2)
         UNION ALL
         (SELECT NULL, NULL, location, reason FROM migration_source_issues WHERE migration_id = $1
           ORDER BY line NULLS FIRST LIMIT $2)`,
        [id, query.limit],
      );
      res.json({ object: 'list', data: rows });
    },
  );

  const signals = {
    pause: pauseMigrationSignal,
    resume: resumeMigrationSignal,
    cancel: cancelMigrationSignal,
  };
  for (const [action, signal] of Object.entries(signals)) {
    routes.add(
      {
        method: 'post',
        path: `/v1/migrations/{migrationId}/${action}`,
        operationId: `${action}Migration`,
        tag: 'Migrations',
        summary:
          action === 'pause'
            ? 'Pause: start no more threads (running ones finish)'
            : action === 'resume'
              ? 'Resume a paused migration'
              : 'Cancel: start no more threads, finish the running ones, end as cancelled',
        access: 'admin',
        params,
        responses: {
          202: { description: 'Signalled', schema: migrationProgress },
          404: { description: 'Unknown' },
          409: { description: 'The migration has ended (`migration_ended`)', schema: errorBody },
        },
      },
      async ({ params: p }, _req, res) => {
        const handle = deps.client.workflow.getHandle(idOf(p.migrationId));
        try {
          await handle.signal(signal);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          // A migration that exists but has ended (a dry run or a short one can end before its
          // creator's next request) is a conflict, not an unknown resource.
          const ended = await handle.describe().then(
            (d) => d.status.name,
            () => null,
          );
          if (ended)
            throw conflict(
              `Migration ${p.migrationId} has ended (${ended.toLowerCase()}): there is nothing to ${action}.`,
              'migration_ended',
            );
          throw notFoundError(`No running migration ${p.migrationId}.`, 'migration_not_found');
        }
        res.status(202).json(await progressOf(deps.client, deps.pool, p.migrationId));
      },
    );
  }
}
