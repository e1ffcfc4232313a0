import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { Pool } from '../store/pool.js';
import { parseExportLine, type ExportObject, type LineIssue } from './mapping.js';
import type { Unit } from './types.js';

/** Staging: the units of a migration and the objects of an export file, written once to Postgres. */

const BATCH = 500;

export async function stageUnits(pool: Pool, migrationId: string, units: Unit[]): Promise<void> {
  for (let i = 0; i < units.length; i += BATCH) {
    const batch = units.slice(i, i + BATCH);
    await pool.query(
      `INSERT INTO migration_units (migration_id, unit_id, external_id)
       SELECT $1, unnest($2::text[]), unnest($3::text[]) ON CONFLICT DO NOTHING`,
      [migrationId, batch.map((u) => u.id), batch.map((u) => u.externalId)],
    );
  }
}

export async function stageIssues(
  pool: Pool,
  migrationId: string,
  file: string,
  issues: LineIssue[],
): Promise<void> {
  for (let i = 0; i < issues.length; i += BATCH) {
    const batch = issues.slice(i, i + BATCH);
    await pool.query(
      `INSERT INTO migration_source_issues (migration_id, location, line, reason)
       SELECT $1, unnest($2::text[]), unnest($3::int[]), unnest($4::text[]) ON CONFLICT DO NOTHING`,
      [
        migrationId,
        batch.map((x) => `${basename(file)}:${x.line}`),
        batch.map((x) => x.line),
        batch.map((x) => x.reason),
      ],
    );
  }
}

/**
 * Streams a JSONL export into `migration_export_objects`; unreadable lines are recorded with their
 * line numbers and the rest carries on. Returns the thread ids found, in file order.
 */
export async function stageExportFile(
  pool: Pool,
  migrationId: string,
  file: string,
  onProgress: (line: number) => void,
): Promise<string[]> {
  const threads: string[] = [];
  const seen = new Set<string>();
  let objects: (ExportObject & { line: number })[] = [];
  let issues: LineIssue[] = [];
  const flush = async () => {
    if (objects.length > 0) {
      await pool.query(
        `INSERT INTO migration_export_objects (migration_id, thread_id, object_type, object_id, line, body)
         SELECT $1, unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), unnest($5::int[]), unnest($6::jsonb[])
         ON CONFLICT DO NOTHING`,
        [
          migrationId,
          objects.map((o) => o.threadId),
          objects.map((o) => o.type),
          objects.map((o) => o.id),
          objects.map((o) => o.line),
          objects.map((o) => JSON.stringify(o.body)),
        ],
      );
    }
    await stageIssues(pool, migrationId, file, issues);
    objects = [];
    issues = [];
  };
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n += 1;
    const parsed = parseExportLine(text);
    if (parsed === null) continue;
    if ('reason' in parsed) {
      issues.push({ line: n, reason: parsed.reason });
    } else {
      objects.push({ ...parsed.object, line: n });
      if (!seen.has(parsed.object.threadId)) {
        seen.add(parsed.object.threadId);
        threads.push(parsed.object.threadId);
      }
    }
    if (objects.length >= BATCH) {
      await flush();
      onProgress(n);
    }
  }
  await flush();
  return threads;
}

export async function loadExportThread(
  pool: Pool,
  migrationId: string,
  threadId: string,
): Promise<{ messages: Record<string, unknown>[]; steps: Record<string, unknown>[] }> {
  const { rows } = await pool.query<{ object_type: string; body: Record<string, unknown> }>(
    `SELECT object_type, body FROM migration_export_objects
      WHERE migration_id = $1 AND thread_id = $2 AND object_type IN ('thread.message', 'thread.run.step')
      ORDER BY line`,
    [migrationId, threadId],
  );
  return {
    messages: rows.filter((r) => r.object_type === 'thread.message').map((r) => r.body),
    steps: rows.filter((r) => r.object_type === 'thread.run.step').map((r) => r.body),
  };
}

export async function sourceIssues(
  pool: Pool,
  migrationId: string,
): Promise<{ count: number; first: string[] }> {
  const { rows } = await pool.query<{ location: string; total: string }>(
    `SELECT location, count(*) OVER () AS total FROM migration_source_issues
      WHERE migration_id = $1 ORDER BY line NULLS FIRST, location LIMIT 10`,
    [migrationId],
  );
  return { count: Number(rows[0]?.total ?? 0), first: rows.map((r) => r.location) };
}
