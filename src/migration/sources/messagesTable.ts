import type { Pool } from '../../store/pool.js';
import type { TableRow } from '../convert.js';
import type { MessagesTableColumns } from '../types.js';

/** A legacy messages table in the Threadline database: one row per message, keyed by conversation. */

export const DEFAULT_COLUMNS: MessagesTableColumns = {
  key: 'conversation_key',
  role: 'role',
  content: 'content',
  createdAt: 'created_at',
  id: 'id',
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `schema.table` or `column`, quoted; anything else is refused (names reach SQL text). */
export function quoteIdentifier(name: string): string {
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw new Error(
      `${JSON.stringify(name)} is not a plain table or column name (letters, digits, _; optional schema.)`,
    );
  }
  return parts.map((p) => `"${p}"`).join('.');
}

function columnsOf(
  columns: Partial<MessagesTableColumns> | undefined,
): Record<keyof MessagesTableColumns, string> {
  const c = { ...DEFAULT_COLUMNS, ...columns };
  return {
    key: quoteIdentifier(c.key),
    role: quoteIdentifier(c.role),
    content: quoteIdentifier(c.content),
    createdAt: quoteIdentifier(c.createdAt),
    id: quoteIdentifier(c.id),
  };
}

export async function listTableKeys(
  pool: Pool,
  table: string,
  columns: Partial<MessagesTableColumns> | undefined,
): Promise<string[]> {
  const c = columnsOf(columns);
  const { rows } = await pool.query<{ key: string }>(
    `SELECT DISTINCT ${c.key}::text AS key FROM ${quoteIdentifier(table)} WHERE ${c.key} IS NOT NULL`,
  );
  return rows.map((r) => r.key);
}

export async function readTableConversation(
  pool: Pool,
  table: string,
  columns: Partial<MessagesTableColumns> | undefined,
  key: string,
): Promise<TableRow[]> {
  const c = columnsOf(columns);
  const { rows } = await pool.query<{ id: string; role: string; content: string; created_at: string | null }>(
    `SELECT ${c.id}::text AS id, ${c.role}::text AS role, ${c.content}::text AS content,
            ${c.createdAt}::text AS created_at
       FROM ${quoteIdentifier(table)} WHERE ${c.key}::text = $1 ORDER BY ${c.createdAt}, ${c.id}`,
    [key],
  );
  return rows.map((r) => ({
    id: r.id,
    role: r.role ?? '',
    content: r.content ?? '',
    createdAt: r.created_at,
  }));
}
