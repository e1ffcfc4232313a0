import type { Pool } from '../store/pool.js';

/**
 * Runtime metrics read from Postgres at scrape time. The facts already live there (model_calls,
 * tool_calls, deliveries, inbound_messages), written exactly once per call by the activities, so
 * the API stays stateless and every instance reports the same cluster-wide totals: aggregate with
 * max(), not sum(), across API instances. Reading is pure SQL aggregation; formatting is pure.
 */

export const LATENCY_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

export interface HistogramData {
  /** Cumulative counts per bucket in LATENCY_BUCKETS order. */
  buckets: number[];
  count: number;
  sum: number;
}

export interface Snapshot {
  modelCalls: {
    model: string;
    recovery: string;
    calls: number;
    inputTokens: number;
    cachedInputTokens: number;
    outputTokens: number;
    reasoningTokens: number;
    costUsd: number;
    latency: HistogramData;
  }[];
  toolCalls: { name: string; status: string; calls: number }[];
  deliveries: {
    channel: string;
    status: string;
    deliveries: number;
    attempts: number;
    /** Sends retried after a claim ran out: the earlier attempt may have sent too. */
    possibleDuplicates?: number;
  }[];
  turnLatency: HistogramData;
  conversations: { status: string; count: number }[];
  /** The latest provider status of each sent message (WhatsApp status webhooks). */
  providerStatuses?: { channel: string; status: string; count: number }[];
  /** Messages the provider reported failed, by its error code. */
  providerFailures?: { channel: string; code: string; count: number }[];
}

const bucketSql = (expr: string) =>
  LATENCY_BUCKETS.map((b, i) => `count(*) FILTER (WHERE ${expr} <= ${b}) AS b${i}`).join(', ');

type BucketRow = Record<string, string>;
const histogram = (r: BucketRow | undefined, count: string, sum: string): HistogramData => ({
  buckets: LATENCY_BUCKETS.map((_, i) => Number(r?.[`b${i}`] ?? 0)),
  count: Number(r?.[count] ?? 0),
  sum: Number(r?.[sum] ?? 0),
});

export async function readSnapshot(pool: Pool): Promise<Snapshot> {
  const [models, tools, deliveries, turns, conversations, statuses, failures] = await Promise.all([
    pool.query<BucketRow>(
      `SELECT model, coalesce(recovery, 'none') AS recovery, count(*) AS calls,
         coalesce(sum(input_tokens), 0) AS input, coalesce(sum(cached_input_tokens), 0) AS cached,
         coalesce(sum(output_tokens), 0) AS output, coalesce(sum(reasoning_tokens), 0) AS reasoning,
         coalesce(sum(cost_usd), 0) AS cost, coalesce(sum(latency_ms), 0) / 1000.0 AS latency_sum,
         count(latency_ms) AS latency_count, ${bucketSql('latency_ms / 1000.0')}
       FROM model_calls GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
    pool.query<BucketRow>(
      `SELECT name, status, count(*) AS calls FROM tool_calls GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
    pool.query<BucketRow>(
      `SELECT channel, status, count(*) AS deliveries, coalesce(sum(attempts), 0) AS attempts,
         coalesce(sum(possible_duplicates), 0) AS possible_duplicates
         FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
    // A turn's latency as the user sees it: first message received -> reply handed to delivery.
    pool.query<BucketRow>(
      `SELECT count(*) AS n, coalesce(sum(l), 0) AS total, ${bucketSql('l')} FROM (
         SELECT extract(epoch FROM d.created_at - min(i.received_at)) AS l
           FROM deliveries d JOIN inbound_messages i ON i.conversation_id = d.conversation_id AND i.turn = d.turn
          WHERE i.received_at IS NOT NULL AND d.part = 'text'
          GROUP BY d.conversation_id, d.turn, d.created_at) t`,
    ),
    pool.query<BucketRow>(`SELECT status, count(*) AS count FROM conversations GROUP BY 1 ORDER BY 1`),
    pool.query<BucketRow>(
      `SELECT channel, provider_status AS status, count(*) AS count FROM deliveries
        WHERE provider_status IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
    pool.query<BucketRow>(
      `SELECT channel, coalesce(provider_error_code::text, 'unknown') AS code, count(*) AS count FROM deliveries
        WHERE provider_status = 'failed' GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
  ]);
  return {
    modelCalls: models.rows.map((r) => ({
      model: r.model!,
      recovery: r.recovery!,
      calls: Number(r.calls),
      inputTokens: Number(r.input),
      cachedInputTokens: Number(r.cached),
      outputTokens: Number(r.output),
      reasoningTokens: Number(r.reasoning),
      costUsd: Number(r.cost),
      latency: histogram(r, 'latency_count', 'latency_sum'),
    })),
    toolCalls: tools.rows.map((r) => ({ name: r.name!, status: r.status!, calls: Number(r.calls) })),
    deliveries: deliveries.rows.map((r) => ({
      channel: r.channel!,
      status: r.status!,
      deliveries: Number(r.deliveries),
      attempts: Number(r.attempts),
      possibleDuplicates: Number(r.possible_duplicates ?? 0),
    })),
    turnLatency: histogram(turns.rows[0], 'n', 'total'),
    conversations: conversations.rows.map((r) => ({ status: r.status!, count: Number(r.count) })),
    providerStatuses: statuses.rows.map((r) => ({
      channel: r.channel!,
      status: r.status!,
      count: Number(r.count),
    })),
    providerFailures: failures.rows.map((r) => ({
      channel: r.channel!,
      code: r.code!,
      count: Number(r.count),
    })),
  };
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (l: Record<string, string>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',')}}`;

/** The Prometheus text exposition of a snapshot. */
export function formatSnapshot(s: Snapshot): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) out.push(`${name}${Object.keys(l).length ? labels(l) : ''} ${v}`);
  };
  const hist = (name: string, help: string, series: [Record<string, string>, HistogramData][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const [l, h] of series) {
      LATENCY_BUCKETS.forEach((b, i) =>
        out.push(`${name}_bucket${labels({ ...l, le: String(b) })} ${h.buckets[i]}`),
      );
      out.push(`${name}_bucket${labels({ ...l, le: '+Inf' })} ${h.count}`);
      out.push(`${name}_sum${Object.keys(l).length ? labels(l) : ''} ${h.sum}`);
      out.push(`${name}_count${Object.keys(l).length ? labels(l) : ''} ${h.count}`);
    }
  };
  const m = s.modelCalls;
  family(
    'threadline_model_calls_total',
    'counter',
    'Completed model calls',
    m.map((r) => [{ model: r.model, recovery: r.recovery }, r.calls]),
  );
  family(
    'threadline_expiry_recoveries_total',
    'counter',
    'Model calls that recovered from expired server-side state',
    m.filter((r) => r.recovery !== 'none').map((r) => [{ model: r.model, recovery: r.recovery }, r.calls]),
  );
  family(
    'threadline_tokens_total',
    'counter',
    'Tokens by model and kind',
    m.flatMap((r) => [
      [{ model: r.model, kind: 'input' }, r.inputTokens],
      [{ model: r.model, kind: 'cached_input' }, r.cachedInputTokens],
      [{ model: r.model, kind: 'output' }, r.outputTokens],
      [{ model: r.model, kind: 'reasoning' }, r.reasoningTokens],
    ]) as [Record<string, string>, number][],
  );
  family(
    'threadline_cost_usd_total',
    'counter',
    'Cost of priced model calls in USD',
    m.map((r) => [{ model: r.model }, r.costUsd]),
  );
  hist(
    'threadline_model_call_latency_seconds',
    'Model call latency',
    m.map((r) => [{ model: r.model, recovery: r.recovery }, r.latency]),
  );
  family(
    'threadline_tool_calls_total',
    'counter',
    'Tool calls by name and status (failed = tool errors)',
    s.toolCalls.map((r) => [{ tool: r.name, status: r.status }, r.calls]),
  );
  family(
    'threadline_tool_errors_total',
    'counter',
    'Tool calls that failed after their last attempt',
    s.toolCalls.filter((r) => r.status === 'failed').map((r) => [{ tool: r.name }, r.calls]),
  );
  family(
    'threadline_deliveries_total',
    'counter',
    'Outbound deliveries by channel and status',
    s.deliveries.map((r) => [{ channel: r.channel, status: r.status }, r.deliveries]),
  );
  family(
    'threadline_delivery_attempts_total',
    'counter',
    'Delivery activity attempts',
    s.deliveries.map((r) => [{ channel: r.channel, status: r.status }, r.attempts]),
  );
  const duplicates = new Map<string, number>();
  for (const r of s.deliveries)
    duplicates.set(r.channel, (duplicates.get(r.channel) ?? 0) + (r.possibleDuplicates ?? 0));
  family(
    'threadline_delivery_possible_duplicates_total',
    'counter',
    'Replies sent again after an attempt died inside send (duplicates unless the provider honours the idempotency key)',
    [...duplicates].map(([channel, n]) => [{ channel }, n]),
  );
  family(
    'threadline_delivery_status_total',
    'gauge',
    'Sent messages by the latest status the provider reported (sent, delivered, read, failed)',
    (s.providerStatuses ?? []).map((r) => [{ channel: r.channel, status: r.status }, r.count]),
  );
  family(
    'threadline_delivery_failures_total',
    'gauge',
    "Messages the provider reported failed, by its error code (WhatsApp: Meta's codes, e.g. 131047)",
    (s.providerFailures ?? []).map((r) => [{ channel: r.channel, code: r.code }, r.count]),
  );
  hist('threadline_turn_latency_seconds', 'First message received to reply handed to delivery', [
    [{}, s.turnLatency],
  ]);
  family(
    'threadline_conversations',
    'gauge',
    'Conversations by status',
    s.conversations.map((r) => [{ status: r.status }, r.count]),
  );
  return out.join('\n') + '\n';
}

/** Reads at most once per `minIntervalMs`, so many scrapers cost one query set. */
export function cachedSnapshot(pool: Pool, minIntervalMs = 5_000): () => Promise<string> {
  let last: { at: number; text: Promise<string> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= minIntervalMs) {
      const text = readSnapshot(pool).then(formatSnapshot);
      last = { at: now, text };
      text.catch(() => (last = undefined));
    }
    return last.text;
  };
}
