import { Context } from '@temporalio/activity';
import { RunContext } from '@openai/agents';
import { getAgent, type AgentRegistry } from '../agents/registry.js';
import { isLastAttempt } from '../agents/toolPolicy.js';
import { parseChannelAction, recordAction } from '../channels/actions.js';
import type { ToolContext } from '../agents/types.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { approvalGate } from './approvals.js';
import { appendItems } from '../store/transcript.js';
import type { ConversationKey } from '../workflows/ids.js';

export interface RunToolInput {
  conversationId: string;
  key: ConversationKey;
  user: string | null;
  agent: string;
  turn: number;
  step: number;
  segment: number;
  callId: string;
  name: string;
  arguments: string;
  /**
   * The tool's attempt limit (0: none, its time bound decides): on the last attempt a failure
   * becomes the tool's output instead of an error.
   */
  maxAttempts: number;
  /** An operator approved this call: the tool's `needsApproval` is not asked again. */
  approved?: boolean;
  /** For a `needsApproval` tool: how long the call may wait for an operator (the pending row's expiry). */
  approvalTimeoutMs?: number;
}

export interface RunToolResult {
  /** 'needs_approval': the tool's `needsApproval` said so; the call is pending and did not run. */
  status: 'completed' | 'failed' | 'skipped' | 'needs_approval';
}

export interface ToolDeps {
  pool: Pool;
  agents: AgentRegistry;
}

export function idempotencyKey(conversationId: string, turn: number, callId: string): string {
  return `${conversationId}/${turn}/${callId}`;
}

/**
 * Runs one function call and persists its output item, so the next model step (and any later
 * history rebuild) finds it in Postgres. A tool that throws is retried by Temporal; after the last
 * attempt the error becomes the output the model sees, and the turn goes on.
 */
export async function runTool(deps: ToolDeps, input: RunToolInput): Promise<RunToolResult> {
  const key = idempotencyKey(input.conversationId, input.turn, input.callId);
  const done = await deps.pool.query<{ status: RunToolResult['status'] }>(
    `SELECT status FROM tool_calls WHERE idempotency_key = $1 AND status IN ('completed', 'failed', 'skipped')`,
    [key],
  );
  if (done.rows[0]) return { status: done.rows[0].status };

  await deps.pool.query(
    `INSERT INTO tool_calls (conversation_id, turn, step, call_id, name, arguments, status, attempts, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, 'running', 1, $7)
     ON CONFLICT (idempotency_key) DO UPDATE SET attempts = tool_calls.attempts + 1, updated_at = now()`,
    [input.conversationId, input.turn, input.step, input.callId, input.name, input.arguments, key],
  );

  const agent = getAgent(deps.agents, input.agent);
  const tool = agent.tools.find((t) => t.name === input.name);
  if (!tool) {
    return finish(deps.pool, input, key, 'failed', `Error: there is no tool named "${input.name}".`, 0);
  }
  let seq = 0;
  const context: ToolContext = {
    tenant: input.key.tenant,
    channel: input.key.channel,
    conversationId: input.conversationId,
    externalId: input.key.externalId,
    user: input.user,
    turn: input.turn,
    callId: input.callId,
    idempotencyKey: key,
    // The n-th send of this attempt is the n-th of every attempt: a retry re-records nothing.
    send: async (action) => {
      seq += 1;
      await recordAction(
        deps.pool,
        { conversationId: input.conversationId, turn: input.turn, idempotencyKey: key, seq },
        parseChannelAction(action),
      );
    },
    inbound: await loadTurnInbound(deps.pool, input.conversationId, input.turn),
  };
  if (!input.approved && (await approvalGate(deps.pool, input, tool, context)) === 'pending')
    return { status: 'needs_approval' };
  const started = Date.now();
  try {
    const output = await tool.invoke(new RunContext(context), input.arguments, {
      toolCall: { type: 'function_call', callId: input.callId, name: input.name, arguments: input.arguments },
    });
    const text = typeof output === 'string' ? output : JSON.stringify(output);
    return finish(deps.pool, input, key, 'completed', text, Date.now() - started);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const info = Context.current().info;
    const deadline =
      info.scheduleToCloseTimeoutMs > 0
        ? info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs
        : undefined;
    if (!isLastAttempt(info.attempt, input.maxAttempts, Date.now(), deadline)) {
      await deps.pool.query(
        'UPDATE tool_calls SET error = $2, updated_at = now() WHERE idempotency_key = $1',
        [key, message],
      );
      throw err;
    }
    return finish(
      deps.pool,
      input,
      key,
      'failed',
      `Error: the tool ${input.name} failed: ${message}`,
      Date.now() - started,
    );
  }
}

/**
 * Answers a function call without running it (the tool round limit was reached, or the tool's
 * activity gave up): every call needs an output, or the API rejects the next request.
 */
export async function skipTool(
  deps: ToolDeps,
  input: Omit<RunToolInput, 'maxAttempts'> & { reason: string },
): Promise<RunToolResult> {
  const key = idempotencyKey(input.conversationId, input.turn, input.callId);
  await deps.pool.query(
    `INSERT INTO tool_calls (conversation_id, turn, step, call_id, name, arguments, status, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, 'running', $7) ON CONFLICT (idempotency_key) DO NOTHING`,
    [input.conversationId, input.turn, input.step, input.callId, input.name, input.arguments, key],
  );
  return finish(deps.pool, { ...input, maxAttempts: 0 }, key, 'skipped', `Not run: ${input.reason}`, 0);
}

async function finish(
  pool: Pool,
  input: RunToolInput,
  key: string,
  status: RunToolResult['status'],
  output: string,
  durationMs: number,
): Promise<RunToolResult> {
  await withTransaction(pool, async (tx) => {
    await appendItems(tx, input.conversationId, [
      {
        itemKey: `t${input.turn}/s${input.step}/tool/${input.callId}`,
        item: { type: 'function_call_output', call_id: input.callId, output },
        turn: input.turn,
        segment: input.segment,
      },
    ]);
    // A concurrent finish (the skip after a give-up racing a late attempt) keeps the first outcome.
    await tx.query(
      `UPDATE tool_calls SET status = $2, output = $3, duration_ms = $4, updated_at = now()
       WHERE idempotency_key = $1 AND status NOT IN ('completed', 'failed', 'skipped')`,
      [key, status, output, durationMs],
    );
  });
  return { status };
}

/** The turn's inbound messages with the metadata their channel recorded (small: a few facts each). */
async function loadTurnInbound(
  pool: ToolDeps['pool'],
  conversationId: string,
  turn: number,
): Promise<NonNullable<ToolContext['inbound']>> {
  const { rows } = await pool.query<{ message_id: string; metadata: Record<string, string> | null }>(
    `SELECT message_id, metadata FROM inbound_messages WHERE conversation_id = $1 AND turn = $2
     ORDER BY received_at NULLS LAST, message_id`,
    [conversationId, turn],
  );
  return rows.map((r) => ({ messageId: r.message_id, metadata: r.metadata ?? {} }));
}
