import type { MappingSpec, MessagesTableColumns, MigrationProgress, SourceSpec } from '../migration/types.js';

/** Pure pieces of the migrate CLI: argument parsing and what it prints. */

export interface SourceOptions {
  baseUrl?: string;
  threads?: string;
  mapping?: string;
  toolCalls?: boolean;
  columns?: string;
}

const abs = (path: string, cwd: string) =>
  path.startsWith('/') ? path : `${cwd.replace(/\/$/, '')}/${path}`;

/** `--mapping users.csv` or `--mapping table:user_threads[:user_col:thread_col]`. Paths become absolute: the worker reads them. */
export function parseMappingOption(value: string, cwd: string): MappingSpec {
  if (value.startsWith('table:')) {
    const [table, userColumn, threadColumn] = value.slice('table:'.length).split(':');
    if (!table) throw new Error('--mapping table:<name> needs a table name');
    return { table, ...(userColumn ? { userColumn } : {}), ...(threadColumn ? { threadColumn } : {}) };
  }
  return { file: abs(value, cwd) };
}

/**
 * `<source>`: `assistants`, `export:<file.jsonl>`, `chains:<file>` or `table:<name>`. Errors name
 * the accepted forms.
 */
export function parseSource(arg: string, options: SourceOptions, cwd: string): SourceSpec {
  const mapping = options.mapping ? { mapping: parseMappingOption(options.mapping, cwd) } : {};
  const colon = arg.indexOf(':');
  const kind = colon < 0 ? arg : arg.slice(0, colon);
  const value = colon < 0 ? '' : arg.slice(colon + 1);
  switch (kind) {
    case 'assistants':
      return {
        kind: 'assistants-api',
        ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
        ...(options.threads
          ? {
              threadIds: options.threads
                .split(',')
                .map((t) => t.trim())
                .filter(Boolean),
            }
          : {}),
        ...mapping,
        ...(options.toolCalls === false ? { toolCalls: false } : {}),
      };
    case 'export':
      if (!value) break;
      return { kind: 'assistants-export', file: abs(value, cwd), ...mapping };
    case 'chains':
      if (!value) break;
      return {
        kind: 'response-chains',
        file: abs(value, cwd),
        ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      };
    case 'table':
      if (!value) break;
      return {
        kind: 'messages-table',
        table: value,
        ...(options.columns ? { columns: parseColumns(options.columns) } : {}),
      };
  }
  throw new Error(
    `source ${JSON.stringify(arg)} is not one of: assistants, export:<file.jsonl>, chains:<file.csv|json>, table:<name>`,
  );
}

const COLUMN_NAMES = ['key', 'role', 'content', 'createdAt', 'id'] as const;

/** `key=conversation_key,role=author,...` */
export function parseColumns(value: string): Partial<MessagesTableColumns> {
  const columns: Partial<MessagesTableColumns> = {};
  for (const pair of value.split(',')) {
    const [name, column] = pair.split('=').map((s) => s.trim());
    if (!name || !column || !(COLUMN_NAMES as readonly string[]).includes(name)) {
      throw new Error(
        `--columns: ${JSON.stringify(pair)} must be one of ${COLUMN_NAMES.join(', ')} = a column name`,
      );
    }
    columns[name as keyof MessagesTableColumns] = column;
  }
  return columns;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line: `[#####-----] 250/500 50% done 240 skipped 5 failed 5 items 1320 22.5/s ETA 11s running`. */
export function renderProgress(p: MigrationProgress, width = 24): string {
  const finished = p.done + p.failed + p.skipped;
  const fraction = p.total ? Math.min(1, finished / p.total) : 0;
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const total = p.total === null ? '?' : String(p.total);
  return (
    `${bar} ${finished}/${total} ${Math.floor(fraction * 100)}% ` +
    `done ${p.done} skipped ${p.skipped} failed ${p.failed} items ${p.items} ` +
    `${p.rate.toFixed(1)}/s ETA ${formatDuration(p.etaSeconds)} ${p.status}${p.dryRun ? ' (dry run)' : ''}`
  );
}

/** The summary table printed at the end. */
export function renderSummary(p: MigrationProgress): string {
  const rows: [string, string][] = [
    ['Migration', p.migrationId],
    ['Status', p.dryRun ? `${p.status} (dry run: nothing written)` : p.status],
    ['Units', p.total === null ? '?' : String(p.total)],
    [p.dryRun ? 'Would migrate' : 'Migrated', String(p.done)],
    ['Skipped', String(p.skipped)],
    ['Failed', String(p.failed)],
    [p.dryRun ? 'Items to add' : 'Items added', String(p.items)],
    ['Unreadable source lines', String(p.sourceIssues.count)],
    ['Time', formatDuration(p.elapsedSeconds)],
    ['Rate', `${p.rate.toFixed(1)} units/s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(Math.max(...rows.map(([, v]) => v.length)) + 2)}+`;
  const vw = line.length - w - 7;
  return [line, ...rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v.padEnd(vw)} |`), line].join('\n');
}
