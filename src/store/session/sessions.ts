import type { Pool, PoolClient } from '../pool.js';

/** Rows of the `sessions` table: who owns a session and what it is for. */

export interface SessionScope {
  tenant: string;
  userId: string;
}

export interface SessionInfo {
  id: string;
  tenant: string;
  userId: string;
  name: string | null;
  description: string | null;
  agentName: string | null;
  agentInstructions: string | null;
  active: boolean;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface SessionUpdate {
  name?: string | null;
  description?: string | null;
  agentName?: string | null;
  agentInstructions?: string | null;
  active?: boolean;
  /** Replaces the whole metadata object. */
  metadata?: Record<string, unknown>;
}

export interface ListSessionsOptions extends SessionScope {
  /** Only active (true) or inactive (false) sessions; all when omitted. */
  active?: boolean;
  limit?: number;
}

/**
 * Opening a session of another tenant or user. The message does not say which of the two
 * differs, so that it cannot be used to probe for other tenants' session ids.
 */
export class SessionAccessError extends Error {
  constructor(sessionId: string, scope: SessionScope) {
    super(
      `Session '${sessionId}' does not belong to tenant '${scope.tenant}' and user '${scope.userId}'. ` +
        'Open it with the tenant and user that created it, or use another session id.',
    );
    this.name = 'SessionAccessError';
  }
}

interface SessionRow {
  id: string;
  tenant: string;
  user_id: string;
  name: string | null;
  description: string | null;
  agent_name: string | null;
  agent_instructions: string | null;
  active: boolean;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

function toInfo(r: SessionRow): SessionInfo {
  return {
    id: r.id,
    tenant: r.tenant,
    userId: r.user_id,
    name: r.name,
    description: r.description,
    agentName: r.agent_name,
    agentInstructions: r.agent_instructions,
    active: r.active,
    metadata: r.metadata,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function createOrGetSession(
  pool: Pool,
  id: string,
  options: SessionScope & {
    name?: string;
    description?: string;
    agentName?: string;
    agentInstructions?: string;
    metadata?: Record<string, unknown>;
  },
): Promise<SessionInfo> {
  if (!id) throw new Error('sessionId must be a non-empty string (or omitted for a new session).');
  if (!options.tenant || !options.userId) throw new Error('A session needs a non-empty tenant and userId.');
  // A session id may be a runtime conversation's id (one transcript for both); another tenant's
  // conversation is as off-limits as another tenant's session.
  const { rows: conv } = await pool.query<{ tenant: string }>(
    'SELECT tenant FROM conversations WHERE id = $1',
    [id],
  );
  if (conv[0] && conv[0].tenant !== options.tenant) throw new SessionAccessError(id, options);
  // Insert-or-nothing, then read: two processes opening the same new id both end up with one row.
  await pool.query(
    `INSERT INTO sessions (id, tenant, user_id, name, description, agent_name, agent_instructions, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
    [
      id,
      options.tenant,
      options.userId,
      options.name ?? null,
      options.description ?? null,
      options.agentName ?? null,
      options.agentInstructions ?? null,
      JSON.stringify(options.metadata ?? {}),
    ],
  );
  const { rows } = await pool.query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id]);
  const row = rows[0];
  if (!row || row.tenant !== options.tenant || row.user_id !== options.userId) {
    throw new SessionAccessError(id, options);
  }
  return toInfo(row);
}

export async function getSession(pool: Pool, id: string): Promise<SessionInfo> {
  const { rows } = await pool.query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id]);
  if (!rows[0]) throw new Error(`Session '${id}' no longer exists.`);
  return toInfo(rows[0]);
}

export async function updateSession(pool: Pool, id: string, changes: SessionUpdate): Promise<SessionInfo> {
  const columns: [keyof SessionUpdate, string][] = [
    ['name', 'name'],
    ['description', 'description'],
    ['agentName', 'agent_name'],
    ['agentInstructions', 'agent_instructions'],
    ['active', 'active'],
    ['metadata', 'metadata'],
  ];
  const sets: string[] = [];
  const values: unknown[] = [id];
  for (const [key, column] of columns) {
    if (changes[key] === undefined) continue;
    values.push(key === 'metadata' ? JSON.stringify(changes[key]) : changes[key]);
    sets.push(`${column} = $${values.length}`);
  }
  const { rows } = await pool.query<SessionRow>(
    `UPDATE sessions SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING *`,
    values,
  );
  if (!rows[0]) throw new Error(`Session '${id}' no longer exists.`);
  return toInfo(rows[0]);
}

export async function listSessions(pool: Pool, options: ListSessionsOptions): Promise<SessionInfo[]> {
  const { rows } = await pool.query<SessionRow>(
    `SELECT * FROM sessions
      WHERE tenant = $1 AND user_id = $2 AND ($3::boolean IS NULL OR active = $3)
      ORDER BY updated_at DESC, id LIMIT $4`,
    [options.tenant, options.userId, options.active ?? null, options.limit ?? 100],
  );
  return rows.map(toInfo);
}

/** Marks a session as just used, for "most recent first" listings. Inside the writer's transaction. */
export async function touchSession(client: PoolClient, id: string): Promise<void> {
  await client.query('UPDATE sessions SET updated_at = now() WHERE id = $1', [id]);
}
