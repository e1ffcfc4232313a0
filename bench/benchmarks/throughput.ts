import { randomBytes } from 'node:crypto';
import { sendMessage, type Sent } from '../lib/api.js';
import { percentiles, round, type Percentiles } from '../lib/stats.js';
import type { Benchmark, BenchContext } from '../lib/types.js';

export interface ThroughputRun {
  conversations: number;
  turnsPerConversation: number;
  messages: number;
  seconds: number;
  turnsPerSecond: number;
  latency: Percentiles;
  /** The first turn also starts the workflow; later turns find it running. */
  firstTurn: Percentiles;
  laterTurns: Percentiles;
  /** Accepted messages without a 200 answer or without their transcript input item. */
  lost: number;
  /** Input items stored more than once, and replies beyond one per turn. */
  duplicated: number;
  /** Answers whose text does not echo their own message (a reply crossed to another message). */
  misrouted: number;
  /** 503 `message_not_taken` answers the load generator retried with the same id (optional: older results lack it). */
  retried?: number;
}

export interface ThroughputResult {
  runs: ThroughputRun[];
}

/**
 * N conversations at once, each a closed loop of T synchronous turns through the API: every
 * conversation always has one turn in flight. Then the transcript is checked message by message.
 */
export const throughput: Benchmark<ThroughputResult> = {
  name: 'throughput',
  title: 'Throughput',
  async run(ctx) {
    const sizes: [number, number][] =
      ctx.sizes?.throughput ??
      (ctx.quick
        ? [
            [20, 2],
            [100, 2],
          ]
        : [
            [100, 5],
            [1000, 2],
          ]);
    const runs: ThroughputRun[] = [];
    for (const [n, t] of sizes) runs.push(await runOnce(ctx, n, t));
    return { runs };
  },
};

async function runOnce(
  { stack, log }: BenchContext,
  conversations: number,
  turns: number,
): Promise<ThroughputRun> {
  const tag = `tp${conversations}-${randomBytes(3).toString('hex')}`;
  const sent: (Sent & { text: string; turn: number })[] = [];
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: conversations }, async (_, c) => {
      for (let t = 1; t <= turns; t++) {
        const id = `${tag}-${c}-${t}`;
        const text = `${id} hello, turn ${t}`;
        try {
          const s = await sendMessage(stack, stack.apiUrl, `${tag}-${c}`, text, id);
          if (s.httpStatus !== 200 && failures++ < 10)
            log(`throughput: ${id}: HTTP ${s.httpStatus} ${s.error}`);
          sent.push({ ...s, text, turn: t });
        } catch (err) {
          // A failed request is counted as lost below; keep the loop going.
          if (failures++ < 10) log(`throughput: ${id}: ${String(err)} ${String((err as Error).cause ?? '')}`);
          sent.push({
            id,
            text,
            turn: t,
            httpStatus: 0,
            ms: 0,
            workflowId: undefined,
            reply: undefined,
            retries: 0,
          });
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;

  // The transcript: each message's input item, and the replies per conversation.
  const { rows: inputs } = await stack.pool.query<{ text: string; n: string }>(
    `SELECT item->'content'->0->>'text' AS text, count(*) AS n FROM session_items
      WHERE role = 'user' AND item->'content'->0->>'text' LIKE $1 GROUP BY 1`,
    [`${tag}-%`],
  );
  const inputCount = new Map(inputs.map((r) => [r.text, Number(r.n)]));
  const { rows: replies } = await stack.pool.query<{ session_id: string; n: string }>(
    `SELECT session_id, count(*) AS n FROM session_items
      WHERE role = 'assistant' AND type = 'message' AND session_id LIKE $1 GROUP BY 1`,
    [`%${tag}-%`],
  );
  let lost = 0;
  let duplicated = 0;
  let misrouted = 0;
  for (const s of sent) {
    const stored = inputCount.get(s.text) ?? 0;
    if (s.httpStatus !== 200 || s.reply?.status !== 'answered' || s.reply.messageId !== s.id || stored === 0)
      lost++;
    if (stored > 1) duplicated += stored - 1;
    if (s.reply?.text && !s.reply.text.includes(s.text)) misrouted++;
  }
  const replyTotal = replies.reduce((a, r) => a + Number(r.n), 0);
  duplicated += replies.reduce((a, r) => a + Math.max(0, Number(r.n) - turns), 0);
  if (replies.length !== conversations || replyTotal < conversations * turns) {
    lost += Math.max(0, conversations * turns - replyTotal);
  }
  const answered = sent.filter((s) => s.httpStatus === 200);
  const run: ThroughputRun = {
    conversations,
    turnsPerConversation: turns,
    messages: sent.length,
    seconds: round(seconds),
    turnsPerSecond: round(sent.length / seconds, 1),
    latency: percentiles(answered.map((s) => s.ms)),
    firstTurn: percentiles(answered.filter((s) => s.turn === 1).map((s) => s.ms)),
    laterTurns: percentiles(answered.filter((s) => s.turn > 1).map((s) => s.ms)),
    lost,
    duplicated,
    misrouted,
    retried: sent.reduce((a, s) => a + s.retries, 0),
  };
  log(`throughput: ${JSON.stringify(run)}`);
  return run;
}
