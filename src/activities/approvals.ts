import { RunContext } from '@openai/agents';
import type { AgentDefinition, ToolContext } from '../agents/types.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { appendItems } from '../store/transcript.js';
import type { ConversationKey } from '../workflows/ids.js';
import type { ApprovalDecision } from '../workflows/messages.js';
import { notRunOutput } from '../workflows/approvals.js';

/**
 * The Postgres side of tool approvals. The gate runs inside runTool, before the tool: a tool
 * declared with `needsApproval` (the @openai/agents `tool()` option, a boolean or an async function
 * of the run context, the parsed arguments and the call id) is asked; when it wants an approval the
 * call is recorded as pending and not run. The workflow then waits for the decision (approvalFlow.ts)
 * and either runs the tool again with `approved` or answers the call with `settleApproval`.
 */

type Tool = AgentDefinition['tools'][number];

export interface GateInput {
  conversationId: string;
  key: ConversationKey;
  turn: number;
  step: number;
  callId: string;
  name: string;
  arguments: string;
  /** The tool's approval timeout, for the row's `expires_at` (the workflow's timer decides). */
  approvalTimeoutMs?: number;
}

/** 'run': no approval needed, or already approved; 'pending': recorded, the workflow waits. */
export async function approvalGate(
  pool: Pool,
  input: GateInput,
  tool: Tool,
  context: ToolContext,
): Promise<'run' | 'pending'> {
  let args: unknown;
  try {
    args = JSON.parse(input.arguments);
  } catch {
    // Arguments that are not JSON fail in the tool itself, with an error the model can read.
    return 'run';
  }
  const needed = await tool.needsApproval(new RunContext(context), args as never, input.callId);
  if (!needed) return 'run';
  const { rows } = await pool.query<{ status: string }>(
    `INSERT INTO tool_approvals (conversation_id, call_id, tenant, turn, step, tool, arguments, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8::double precision / 1000))
     ON CONFLICT (conversation_id, call_id) DO UPDATE SET tenant = tool_approvals.tenant
     RETURNING status`,
    [
      input.conversationId,
      input.callId,
      input.key.tenant,
      input.turn,
      input.step,
      input.name,
      input.arguments,
      input.approvalTimeoutMs ?? 24 * 3600 * 1000,
    ],
  );
  // A run resumed mid-turn finds the decision an earlier run recorded.
  if (rows[0]?.status === 'approved') return 'run';
  await pool.query(
    `UPDATE tool_calls SET status = 'awaiting_approval', updated_at = now()
     WHERE idempotency_key = $1 AND status = 'running'`,
    [`${input.conversationId}/${input.turn}/${input.callId}`],
  );
  return 'pending';
}

export interface SettleApprovalInput {
  conversationId: string;
  key: ConversationKey;
  turn: number;
  step: number;
  segment: number;
  callId: string;
  name: string;
  decision: ApprovalDecision;
}

/**
 * Records the decision. A call that is not approved gets its output now (what the model reads:
 * notRunOutput), so the next model step has an output for every call. Idempotent: the first
 * decision recorded stays, the output item is written once.
 */
export async function settleApproval(pool: Pool, input: SettleApprovalInput): Promise<void> {
  const d = input.decision;
  await withTransaction(pool, async (tx) => {
    await tx.query(
      `UPDATE tool_approvals SET status = $3, decided_by = $4, reason = $5, decided_at = $6::timestamptz
       WHERE conversation_id = $1 AND call_id = $2 AND status = 'pending'`,
      [input.conversationId, input.callId, d.outcome, d.operator, d.reason, d.decidedAt],
    );
    if (d.outcome === 'approved') return;
    const output = notRunOutput(d);
    await appendItems(tx, input.conversationId, [
      {
        itemKey: `t${input.turn}/s${input.step}/tool/${input.callId}`,
        item: { type: 'function_call_output', call_id: input.callId, output },
        turn: input.turn,
        segment: input.segment,
      },
    ]);
    await tx.query(
      `UPDATE tool_calls SET status = 'skipped', output = $2, updated_at = now()
       WHERE idempotency_key = $1 AND status NOT IN ('completed', 'failed', 'skipped')`,
      [`${input.conversationId}/${input.turn}/${input.callId}`, output],
    );
  });
}

export interface ApprovalRow {
  callId: string;
  tool: string;
  arguments: string;
  turn: number;
  status: string;
  requestedAt: string;
  expiresAt: string | null;
  decidedBy: string | null;
  reason: string | null;
  decidedAt: string | null;
}

/** A conversation's approvals, newest first (the API's list). */
export async function listApprovals(
  pool: Pool,
  conversationId: string,
  status?: string,
): Promise<ApprovalRow[]> {
  const { rows } = await pool.query<{
    call_id: string;
    tool: string;
    arguments: string;
    turn: number;
    status: string;
    requested_at: Date;
    expires_at: Date | null;
    decided_by: string | null;
    reason: string | null;
    decided_at: Date | null;
  }>(
    `SELECT call_id, tool, arguments, turn, status, requested_at, expires_at, decided_by, reason, decided_at
       FROM tool_approvals WHERE conversation_id = $1 AND ($2::text IS NULL OR status = $2)
      ORDER BY requested_at DESC, call_id LIMIT 200`,
    [conversationId, status ?? null],
  );
  return rows.map((r) => ({
    callId: r.call_id,
    tool: r.tool,
    arguments: r.arguments,
    turn: r.turn,
    status: r.status,
    requestedAt: r.requested_at.toISOString(),
    expiresAt: r.expires_at?.toISOString() ?? null,
    decidedBy: r.decided_by,
    reason: r.reason,
    decidedAt: r.decided_at?.toISOString() ?? null,
  }));
}
