/**
 * User-identifier mappings and export lines. Pure parsers: the activities read the files and write
 * what these return to Postgres.
 */

export interface MappingEntry {
  /** The user identifier: the conversation's external id. */
  user: string;
  /** Thread id (or, for response chains, the last response id). */
  ref: string;
}

export interface LineIssue {
  line: number;
  reason: string;
}

export interface ParsedMapping {
  entries: MappingEntry[];
  issues: LineIssue[];
}

const USER_COLUMNS = ['user', 'user_id', 'userid', 'external_id', 'customer', 'phone', 'email'];
const REF_COLUMNS = ['thread_id', 'thread', 'response_id', 'last_response_id', 'response'];

/**
 * A mapping file: JSON (`{"user": "thread_…"}`, or an array of objects with a user and a thread or
 * response column) or CSV with a header row naming those columns.
 */
export function parseMapping(text: string, fileName = 'mapping'): ParsedMapping {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJsonMapping(trimmed, fileName);
  return parseCsvMapping(text, fileName);
}

function parseJsonMapping(text: string, fileName: string): ParsedMapping {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${fileName} is not valid JSON: ${(err as Error).message}`);
  }
  const entries: MappingEntry[] = [];
  const issues: LineIssue[] = [];
  if (Array.isArray(data)) {
    data.forEach((row, i) => {
      const entry = entryOf(row as Record<string, unknown>);
      if (entry) entries.push(entry);
      else issues.push({ line: i + 1, reason: `entry ${i + 1} has no user and thread/response id` });
    });
  } else if (data && typeof data === 'object') {
    for (const [user, ref] of Object.entries(data)) {
      if (typeof ref === 'string' && ref) entries.push({ user, ref });
      else issues.push({ line: 0, reason: `the value for ${JSON.stringify(user)} is not an id` });
    }
  } else {
    throw new Error(`${fileName} must hold an object or an array`);
  }
  return { entries, issues };
}

function entryOf(row: Record<string, unknown> | null): MappingEntry | undefined {
  if (!row || typeof row !== 'object') return undefined;
  // `threadId`, `thread_id` and `THREAD_ID` all name the same column.
  const byName = new Map(
    Object.entries(row).map(([k, v]) => [k.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase(), v]),
  );
  const pick = (names: string[]) =>
    names.map((n) => byName.get(n)).find((v): v is string => typeof v === 'string' && v.length > 0);
  const user = pick(USER_COLUMNS);
  const ref = pick(REF_COLUMNS);
  return user && ref ? { user, ref } : undefined;
}

function parseCsvMapping(text: string, fileName: string): ParsedMapping {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.trim().toLowerCase());
  const userAt = header.findIndex((h) => USER_COLUMNS.includes(h));
  const refAt = header.findIndex((h) => REF_COLUMNS.includes(h));
  if (userAt < 0 || refAt < 0) {
    throw new Error(
      `${fileName}: the CSV header must name a user column (${USER_COLUMNS.join(', ')}) and a thread or ` +
        `response column (${REF_COLUMNS.join(', ')}); found: ${header.join(', ') || '(empty)'}`,
    );
  }
  const entries: MappingEntry[] = [];
  const issues: LineIssue[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const cells = splitCsvLine(raw);
    const user = cells[userAt]?.trim();
    const ref = cells[refAt]?.trim();
    if (user && ref) entries.push({ user, ref });
    else issues.push({ line: i + 1, reason: 'missing user or id' });
  }
  return { entries, issues };
}

/** RFC 4180 cells of one line: quotes, doubled quotes inside quotes. */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

export type ExportObjectType = 'thread' | 'thread.message' | 'thread.run' | 'thread.run.step';

export interface ExportObject {
  type: ExportObjectType;
  id: string;
  threadId: string;
  body: Record<string, unknown>;
}

const EXPORT_TYPES = new Set<string>(['thread', 'thread.message', 'thread.run', 'thread.run.step']);

/** One line of an Assistants JSONL export: a thread, message, run or run step object. */
export function parseExportLine(line: string): { object: ExportObject } | { reason: string } | null {
  if (line.trim() === '') return null;
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch (err) {
    return { reason: `not JSON (${(err as Error).message})` };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { reason: 'not a JSON object' };
  const o = body as Record<string, unknown>;
  if (typeof o.object !== 'string' || !EXPORT_TYPES.has(o.object)) {
    return { reason: `unknown object type ${JSON.stringify(o.object ?? null)}` };
  }
  if (typeof o.id !== 'string' || !o.id) return { reason: `${o.object} without an id` };
  const threadId = o.object === 'thread' ? o.id : o.thread_id;
  if (typeof threadId !== 'string' || !threadId) return { reason: `${o.object} ${o.id} without a thread_id` };
  if (o.object === 'thread.message' && !Array.isArray(o.content)) {
    return { reason: `message ${o.id} has no content array` };
  }
  return { object: { type: o.object as ExportObjectType, id: o.id, threadId, body: o } };
}
