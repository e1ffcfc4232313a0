import { randomUUID } from 'node:crypto';
// A CommonJS package: under plain Node ESM only its default export is reliable.
import proto from '@temporalio/proto';
import { AGENTS } from '../lib/agents.js';
import { sendMessage } from '../lib/api.js';
import { startApi, type Stack } from '../lib/stack.js';
import { median, round } from '../lib/stats.js';
import type { Benchmark } from '../lib/types.js';

const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;

export interface HistoryPoint {
  turn: number;
  /** Measured: events and bytes this turn added to the workflow history. */
  events: number;
  bytes: number;
  /** The transcript (all items through this turn's input), as JSON bytes. */
  transcriptBytes: number;
  /** Computed: the same turn if the transcript went into the model activity's input. */
  peerBytes: number;
}

export interface HistoryResult {
  turns: number;
  messageChars: number;
  runs: number;
  points: HistoryPoint[];
  /** Whole conversation, measured (ours) and computed (peer), in bytes. */
  cumulative: { ours: number; peer: number };
  /** Extrapolated from the measured growth per turn. */
  peerHits: { blobLimitTurn: number; historyLimitTurn: number };
  /**
   * A second conversation of as many turns, each with one tool call (two model calls): the events
   * per turn at turns 1, 2, 50 and the last (medians around each), and the range over turns 2..last.
   */
  toolTurns?: { turns: number; points: { turn: number; events: number }[]; min: number; max: number };
}

/** Temporal's default limits: one payload (blob) 2 MB, one workflow history 50 MB. */
const BLOB_LIMIT = 2 * 1024 * 1024;
const HISTORY_LIMIT = 50 * 1024 * 1024;

/**
 * One conversation of 200 turns (chained, no tools, ~200-character messages). Per turn: the
 * history events from the update's acceptance to the next one, as the test does, beside the
 * transcript that a "pass the conversation through the activity" design would copy into history
 * on every model call.
 */
export const historyEconomy: Benchmark<HistoryResult> = {
  name: 'history',
  title: 'History economy',
  async run({ stack, quick, log }) {
    const turns = quick ? 50 : 200;
    const externalId = `history-${randomUUID()}`;
    const filler = 'Could you tell me more about the opening hours and the menu for tonight? '.repeat(3);
    let workflowId = '';
    for (let i = 1; i <= turns; i++) {
      const sent = await sendMessage(stack, stack.apiUrl, externalId, `${i}: ${filler}`);
      if (sent.reply?.turn !== i)
        throw new Error(`history: turn ${i} answered ${JSON.stringify(sent.reply)}`);
      workflowId = sent.workflowId!;
      if (i % 50 === 0) log(`history: turn ${i}/${turns}`);
    }

    const { runs, perTurn } = await historyPerTurn(stack, workflowId);
    if (perTurn.length !== turns)
      throw new Error(`history: found ${perTurn.length} turns in history, sent ${turns}`);

    const { rows } = await stack.pool.query<{ turn: number; bytes: string }>(
      `SELECT turn, sum(octet_length(item::text)) AS bytes FROM session_items
        WHERE session_id = $1 GROUP BY turn ORDER BY turn`,
      [workflowId],
    );
    if (rows.length === 0) throw new Error(`history: no transcript under session id ${workflowId}`);
    const itemBytes = new Map(rows.map((r) => [r.turn, Number(r.bytes)]));
    // Through turn N's input: every earlier turn whole, plus this turn's user message (about half).
    const transcriptThrough = (n: number) => {
      let sum = 0;
      for (let t = 1; t < n; t++) sum += itemBytes.get(t) ?? 0;
      return sum + (itemBytes.get(n) ?? 0) / 2;
    };
    // One model call per turn here, so the peer copies the transcript into history once per turn.
    const point = (turn: number): HistoryPoint => {
      // Medians over a few turns around the target tolerate the one turn carrying a continue-as-new.
      const window = perTurn.slice(Math.max(0, turn - 3), Math.min(turns, turn + 2));
      const events = turn === 1 ? perTurn[0]!.events : median(window.map((t) => t.events));
      const bytes = turn === 1 ? perTurn[0]!.bytes : median(window.map((t) => t.bytes));
      const transcriptBytes = Math.round(transcriptThrough(turn));
      return { turn, events, bytes, transcriptBytes, peerBytes: bytes + transcriptBytes };
    };
    const points = [1, 50, turns].filter((t, i, all) => all.indexOf(t) === i).map(point);
    const ours = perTurn.reduce((a, t) => a + t.bytes, 0);
    let peer = 0;
    for (let t = 1; t <= turns; t++) peer += perTurn[t - 1]!.bytes + transcriptThrough(t);

    // Growth of the transcript per turn, and the peer's per-turn cost c + g·n: where it breaks.
    const growth = (transcriptThrough(turns) - transcriptThrough(1)) / (turns - 1);
    const base = median(perTurn.map((t) => t.bytes));
    let historyLimitTurn = 0;
    for (let n = 1, total = 0; total < HISTORY_LIMIT; n++) {
      total += base + growth * n;
      historyLimitTurn = n;
    }
    const toolTurns = await toolConversation(stack, turns, log);
    return {
      turns,
      messageChars: filler.length + 5,
      runs,
      toolTurns,
      points,
      cumulative: { ours, peer: Math.round(peer) },
      peerHits: { blobLimitTurn: Math.ceil(BLOB_LIMIT / growth), historyLimitTurn },
    };
  },
};

/** Events and bytes each turn added, over every run of the workflow (continue-as-new starts a run). */
async function historyPerTurn(
  stack: Stack,
  workflowId: string,
): Promise<{ runs: number; perTurn: { events: number; bytes: number }[] }> {
  const runs: string[] = [];
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
    runs.push(wf.runId);
  const perTurn: { events: number; bytes: number }[] = [];
  for (const runId of runs.reverse()) {
    const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
    let current: { events: number; bytes: number } | undefined;
    for (const event of history.events ?? []) {
      // A turn starts when its update is accepted and runs until the next one is.
      if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
        current = { events: 0, bytes: 0 };
        perTurn.push(current);
      }
      if (!current) continue;
      current.events += 1;
      current.bytes += temporal.api.history.v1.HistoryEvent.encode(event).finish().length;
    }
  }
  return { runs: runs.length, perTurn };
}

/** The row: history events per tool turn, flat to turn 200. */
async function toolConversation(
  stack: Stack,
  turns: number,
  log: (line: string) => void,
): Promise<NonNullable<HistoryResult['toolTurns']>> {
  const api = await startApi(stack, AGENTS.tools);
  const externalId = `history-tools-${randomUUID()}`;
  let workflowId = '';
  try {
    for (let i = 1; i <= turns; i++) {
      const sent = await sendMessage(stack, api.url, externalId, `${i}: call get_weather {"city":"Oslo"}`);
      if (sent.reply?.turn !== i || !sent.reply.text?.startsWith('Tool results'))
        throw new Error(`history: tool turn ${i} answered ${JSON.stringify(sent.reply)}`);
      workflowId = sent.workflowId!;
      if (i % 50 === 0) log(`history: tool turn ${i}/${turns}`);
    }
  } finally {
    await api.stop();
  }
  const { perTurn } = await historyPerTurn(stack, workflowId);
  if (perTurn.length !== turns)
    throw new Error(`history: found ${perTurn.length} tool turns in history, sent ${turns}`);
  const events = perTurn.map((t) => t.events);
  const around = (turn: number) =>
    turn === 1 ? events[0]! : median(events.slice(Math.max(1, turn - 3), Math.min(turns, turn + 2)));
  const later = events.slice(1);
  return {
    turns,
    points: [1, 2, 50, turns]
      .filter((t, i, all) => t <= turns && all.indexOf(t) === i)
      .map((turn) => ({ turn, events: around(turn) })),
    min: Math.min(...later),
    max: Math.max(...later),
  };
}

export const kb = (bytes: number) => round(bytes / 1024, 1);
