import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Context } from '@temporalio/activity';
import type OpenAI from 'openai';
import { getAgent, type AgentRegistry } from '../agents/registry.js';
import {
  convertChain,
  convertTableRows,
  convertThread,
  type AssistantsMessage,
  type AssistantsRunStep,
  type Conversion,
} from '../migration/convert.js';
import { parseMapping, type MappingEntry } from '../migration/mapping.js';
import { fetchThread, listEmulatorThreads } from '../migration/sources/assistantsApi.js';
import { sourceClient } from '../migration/sourceKeys.js';
import { listTableKeys, quoteIdentifier, readTableConversation } from '../migration/sources/messagesTable.js';
import { walkChain } from '../migration/sources/responseChain.js';
import {
  loadExportThread,
  sourceIssues,
  stageExportFile,
  stageIssues,
  stageUnits,
} from '../migration/staging.js';
import type { MappingSpec, SourceSpec, TargetSpec, Unit, UnitResult } from '../migration/types.js';
import type { UnitSource } from '../migration/unitSource.js';
import { recordedOutcome, recordUnitFailure, writeUnit } from '../migration/write.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { loadLatestItems } from '../store/transcript.js';
import { conversationWorkflowId } from '../workflows/ids.js';
import { sanitizeForInput } from './history.js';
import { toActivityFailure } from './openaiErrors.js';

export interface MigrationDeps {
  pool: Pool;
  openai: OpenAI;
  agents: AgentRegistry;
}

// In a unit test there is no activity context; heartbeats are then no-ops. A batch's units are
// local activities, which cannot heartbeat (the core logged a warning for each attempt).
function heartbeat(): void {
  try {
    const context = Context.current();
    if (!context.info.isLocal) context.heartbeat();
  } catch {
    /* not inside an activity */
  }
}

async function readMapping(
  deps: MigrationDeps,
  migrationId: string,
  spec: MappingSpec,
): Promise<MappingEntry[]> {
  if ('file' in spec) {
    const parsed = parseMapping(await readFile(spec.file, 'utf8'), basename(spec.file));
    await stageIssues(deps.pool, migrationId, spec.file, parsed.issues);
    return parsed.entries;
  }
  const user = quoteIdentifier(spec.userColumn ?? 'user_id');
  const thread = quoteIdentifier(spec.threadColumn ?? 'thread_id');
  const { rows } = await deps.pool.query<{ user: string; ref: string }>(
    `SELECT ${user}::text AS user, ${thread}::text AS ref FROM ${quoteIdentifier(spec.table)}
      WHERE ${user} IS NOT NULL AND ${thread} IS NOT NULL`,
  );
  return rows;
}

export interface PrepareResult {
  total: number;
  issues: { count: number; first: string[] };
}

/**
 * Stages the migration's units (and an export file's objects) in Postgres, so that the parent pages
 * through small rows and each child reads only its own unit. Idempotent: a retry adds nothing.
 */
export async function prepareMigrationSource(
  deps: MigrationDeps,
  input: { migrationId: string; source: SourceSpec; target: TargetSpec },
): Promise<PrepareResult> {
  const { migrationId, source } = input;
  getAgent(deps.agents, input.target.agent); // an unknown agent fails here, before any write
  let units: Unit[];
  try {
    switch (source.kind) {
      case 'assistants-api': {
        if (source.threadIds?.length) units = source.threadIds.map((id) => ({ id, externalId: id }));
        else if (source.mapping) {
          units = (await readMapping(deps, migrationId, source.mapping)).map((e) => ({
            id: e.ref,
            externalId: e.user,
          }));
        } else {
          units = (
            await listEmulatorThreads(await sourceClient(deps, migrationId, source.baseUrl), heartbeat)
          ).map((id) => ({
            id,
            externalId: id,
          }));
        }
        break;
      }
      case 'assistants-export': {
        const threads = await stageExportFile(deps.pool, migrationId, source.file, heartbeat);
        const users = new Map(
          source.mapping
            ? (await readMapping(deps, migrationId, source.mapping)).map((e) => [e.ref, e.user])
            : [],
        );
        units = threads.map((id) => ({ id, externalId: users.get(id) ?? id }));
        break;
      }
      case 'response-chains': {
        const entries = source.chains
          ? source.chains.map((c) => ({ user: c.externalId, ref: c.responseId }))
          : source.file
            ? await readMapping(deps, migrationId, { file: source.file })
            : [];
        units = entries.map((e) => ({ id: e.ref, externalId: e.user }));
        break;
      }
      case 'messages-table':
        units = (await listTableKeys(deps.pool, source.table, source.columns)).map((k) => ({
          id: k,
          externalId: k,
        }));
        break;
    }
  } catch (err) {
    throw toActivityFailure(err);
  }
  await stageUnits(deps.pool, migrationId, units);
  const { rows } = await deps.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM migration_units WHERE migration_id = $1',
    [migrationId],
  );
  return { total: Number(rows[0]?.n ?? 0), issues: await sourceIssues(deps.pool, migrationId) };
}

/** One page of staged units after `after` (unit ids ascending); `next` is null on the last page. */
export async function listMigrationUnits(
  deps: MigrationDeps,
  input: { migrationId: string; after: string | null; limit: number },
): Promise<{ units: Unit[]; next: string | null }> {
  const { rows } = await deps.pool.query<{ unit_id: string; external_id: string }>(
    `SELECT unit_id, external_id FROM migration_units
      WHERE migration_id = $1 AND ($2::text IS NULL OR unit_id > $2) ORDER BY unit_id LIMIT $3`,
    [input.migrationId, input.after, input.limit],
  );
  const units = rows.map((r) => ({ id: r.unit_id, externalId: r.external_id }));
  return { units, next: units.length === input.limit ? units.at(-1)!.id : null };
}

/** Reads one unit from its source, converts it, and writes it; returns counts, never content. */
export async function migrateUnit(
  deps: MigrationDeps,
  input: { migrationId: string; source: UnitSource; target: TargetSpec; dryRun: boolean; unit: Unit },
): Promise<UnitResult> {
  const { source, target, unit } = input;
  const recorded = await recordedOutcome(deps.pool, input.migrationId, unit.id);
  if (recorded) return recorded;
  const agent = getAgent(deps.agents, target.agent);
  const conversation = {
    id: conversationWorkflowId({
      tenant: target.tenant,
      channel: target.channel,
      externalId: unit.externalId,
    }),
    tenant: target.tenant,
    channel: target.channel,
    externalId: unit.externalId,
    agent: agent.name,
    strategy: agent.strategy,
  };
  const common = { migrationId: input.migrationId, unitId: unit.id, conversation, dryRun: input.dryRun };
  try {
    switch (source.kind) {
      case 'assistants-api': {
        const client = await sourceClient(deps, input.migrationId, source.baseUrl);
        const thread = await fetchThread(client, unit.id, {
          toolCalls: source.toolCalls ?? true,
          onPage: heartbeat,
        });
        const converted = convertThread(thread.messages, thread.steps);
        return await writeUnit(deps.pool, {
          ...common,
          source: { kind: 'assistants', id: unit.id },
          items: converted.items,
          note: noteOf(converted),
        });
      }
      case 'assistants-export': {
        const thread = await loadExportThread(deps.pool, input.migrationId, unit.id);
        const converted = convertThread(
          thread.messages as unknown as AssistantsMessage[],
          thread.steps as unknown as AssistantsRunStep[],
        );
        return await writeUnit(deps.pool, {
          ...common,
          source: { kind: 'assistants', id: unit.id },
          items: converted.items,
          note: noteOf(converted),
        });
      }
      case 'response-chains': {
        const client = await sourceClient(deps, input.migrationId, source.baseUrl);
        const chain = await walkChain(client, unit.id, heartbeat);
        const note = chain.brokenAt
          ? `chain broken at ${chain.brokenAt.responseId}: ${chain.brokenAt.reason}; kept the ${chain.links.length} newer response(s)`
          : null;
        return await writeUnit(deps.pool, {
          ...common,
          source: { kind: 'response_chain', id: unit.id },
          items: convertChain(chain.links),
          note,
          lastResponseId: unit.id,
        });
      }
      case 'messages-table': {
        const rows = await readTableConversation(deps.pool, source.table, source.columns, unit.id);
        const converted = convertTableRows(source.table, rows);
        return await writeUnit(deps.pool, {
          ...common,
          source: { kind: 'messages_table', id: `${source.table}/${unit.id}` },
          items: converted.items,
          note: noteOf(converted),
        });
      }
    }
  } catch (err) {
    throw toActivityFailure(err);
  }
}

function noteOf(c: Conversion): string | null {
  return c.notes.length ? c.notes.join('; ') : null;
}

export async function recordMigrationUnitFailure(
  deps: MigrationDeps,
  input: { migrationId: string; unitId: string; reason: string },
): Promise<void> {
  await recordUnitFailure(deps.pool, input.migrationId, input.unitId, input.reason);
}

const ITEMS_PER_CALL = 20;

/**
 * Seeds an OpenAI conversation with the last N migrated items (at most 20 per items call) and
 * records it, so that a `conversation`-strategy agent's next turn continues server-side. A
 * conversation that already has one is left alone (a rerun seeds nothing).
 */
export async function seedOpenAIConversation(
  deps: MigrationDeps,
  input: { conversationId: string; lastItems: number },
): Promise<{ seeded: number; openaiConversationId: string | null }> {
  const { rows } = await deps.pool.query<{ openai_conversation_id: string | null }>(
    'SELECT openai_conversation_id FROM conversations WHERE id = $1',
    [input.conversationId],
  );
  if (!rows[0] || rows[0].openai_conversation_id) {
    return { seeded: 0, openaiConversationId: rows[0]?.openai_conversation_id ?? null };
  }
  const stored = await withTransaction(deps.pool, (tx) =>
    loadLatestItems(tx, input.conversationId, input.lastItems),
  );
  // The window must open with a message: a tool output whose call was cut off would be refused.
  const first = stored.findIndex((r) => r.item.type === 'message');
  const items = sanitizeForInput(first < 0 ? [] : stored.slice(first).map((r) => r.item));
  try {
    const created = await deps.openai.conversations.create({
      metadata: { threadline_conversation: input.conversationId.slice(0, 512) },
    });
    for (let i = 0; i < items.length; i += ITEMS_PER_CALL) {
      await deps.openai.conversations.items.create(created.id, {
        items: items.slice(i, i + ITEMS_PER_CALL) as OpenAI.Conversations.ItemCreateParams['items'],
      });
      heartbeat();
    }
    // A retry after a crash mid-seeding creates a fresh conversation; only a complete one is recorded.
    const { rows: updated } = await deps.pool.query<{ openai_conversation_id: string }>(
      `UPDATE conversations SET openai_conversation_id = COALESCE(openai_conversation_id, $2), updated_at = now()
        WHERE id = $1 RETURNING openai_conversation_id`,
      [input.conversationId, created.id],
    );
    return { seeded: items.length, openaiConversationId: updated[0]?.openai_conversation_id ?? created.id };
  } catch (err) {
    throw toActivityFailure(err);
  }
}
