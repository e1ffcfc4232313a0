import type { Pool, PoolClient } from './pool.js';

/**
 * Token and cost aggregates from `model_calls`, per conversation and per tenant (through
 * `conversations`). Calls whose cost is unknown (a model without a price) are counted in
 * `unpricedCalls` rather than as zero, so a total never looks cheaper than it was.
 */

type Queryable = Pick<Pool, 'query'> | PoolClient;

export interface UsageTotals {
  calls: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /** Sum over the calls with a known cost. */
  costUsd: number;
  /** Calls without a cost (unknown model, or no usage reported). */
  unpricedCalls: number;
}

export interface ModelUsage extends UsageTotals {
  model: string;
}

export interface TenantUsage extends UsageTotals {
  tenant: string;
  byModel: ModelUsage[];
}

export interface UsageWindow {
  /** Calls created at or after this instant. */
  from?: Date;
  /** Calls created before this instant. */
  to?: Date;
}

const TOTALS = `
  count(*) AS calls,
  coalesce(sum(m.input_tokens), 0) AS input_tokens,
  coalesce(sum(m.cached_input_tokens), 0) AS cached_input_tokens,
  coalesce(sum(m.output_tokens), 0) AS output_tokens,
  coalesce(sum(m.reasoning_tokens), 0) AS reasoning_tokens,
  coalesce(sum(m.cost_usd), 0) AS cost_usd,
  count(*) FILTER (WHERE m.cost_usd IS NULL) AS unpriced_calls`;

interface TotalsRow {
  calls: string;
  input_tokens: string;
  cached_input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
  unpriced_calls: string;
}

function toTotals(r: TotalsRow | undefined): UsageTotals {
  return {
    calls: Number(r?.calls ?? 0),
    inputTokens: Number(r?.input_tokens ?? 0),
    cachedInputTokens: Number(r?.cached_input_tokens ?? 0),
    outputTokens: Number(r?.output_tokens ?? 0),
    reasoningTokens: Number(r?.reasoning_tokens ?? 0),
    costUsd: Number(r?.cost_usd ?? 0),
    unpricedCalls: Number(r?.unpriced_calls ?? 0),
  };
}

export async function conversationUsage(db: Queryable, conversationId: string): Promise<UsageTotals> {
  const { rows } = await db.query<TotalsRow>(
    `SELECT ${TOTALS} FROM model_calls m WHERE m.conversation_id = $1`,
    [conversationId],
  );
  return toTotals(rows[0]);
}

export async function tenantUsage(
  db: Queryable,
  tenant: string,
  window: UsageWindow = {},
): Promise<TenantUsage> {
  const { rows } = await db.query<TotalsRow & { model: string }>(
    `SELECT m.model, ${TOTALS}
       FROM model_calls m JOIN conversations c ON c.id = m.conversation_id
      WHERE c.tenant = $1
        AND ($2::timestamptz IS NULL OR m.created_at >= $2)
        AND ($3::timestamptz IS NULL OR m.created_at < $3)
      GROUP BY m.model ORDER BY m.model`,
    [tenant, window.from ?? null, window.to ?? null],
  );
  const byModel = rows.map((r) => ({ model: r.model, ...toTotals(r) }));
  const total = byModel.reduce<UsageTotals>(
    (sum, m) => ({
      calls: sum.calls + m.calls,
      inputTokens: sum.inputTokens + m.inputTokens,
      cachedInputTokens: sum.cachedInputTokens + m.cachedInputTokens,
      outputTokens: sum.outputTokens + m.outputTokens,
      reasoningTokens: sum.reasoningTokens + m.reasoningTokens,
      costUsd: sum.costUsd + m.costUsd,
      unpricedCalls: sum.unpricedCalls + m.unpricedCalls,
    }),
    toTotals(undefined),
  );
  // Summing per-model sums in floating point could show 0.30000000000000004: cost_usd has 6 decimals.
  return { tenant, ...total, costUsd: Math.round(total.costUsd * 1e6) / 1e6, byModel };
}
