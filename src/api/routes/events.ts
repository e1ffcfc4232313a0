import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Pool } from '../../store/pool.js';
import { tenantOf } from '../auth.js';
import type { StreamNotifications } from '../../streaming/subscriber.js';
import {
  formatEvent,
  parseEventId,
  planEvents,
  type EventCursor,
  type EventDelta,
  type EventItem,
} from '../events.js';
import { locateConversation } from '../locateConversation.js';
import type { Routes } from '../route.js';
import { conversationParams } from '../schemas.js';

export interface EventsDeps {
  client: Client;
  pool: Pool;
  pollMs: number;
  /** Aborted when the server shuts down: open streams end so the drain can finish. */
  closing: AbortSignal;
  /** Wakes a stream when its conversation's model stream or output moves (NOTIFY); polls without. */
  notifications?: StreamNotifications;
}

const BATCH = 200;
const DELTA_BATCH = 500;
const KEEPALIVE_MS = 15_000;

export function eventsRoutes(routes: Routes, deps: EventsDeps): void {
  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/events',
      operationId: 'streamEvents',
      tag: 'Conversations',
      summary: 'Server-Sent Events: transcript items, replies, turn status and the live model stream',
      description:
        "Events `turn.started`, `item`, `reply` (an assistant message, with its text; `operator` set on an operator's reply) and `turn.completed` " +
        '(`answered` or `failed`), in transcript order. While a model step streams: `stream.delta` ' +
        '(`{turn, step, attempt, outputIndex, contentIndex, text}`: append `text`), `stream.item.added` and ' +
        '`stream.item.done` (`{turn, step, attempt, outputIndex, item}`: a message or a function call ' +
        'starting and ending), and `stream.superseded` (`{turn, step, attempt, reason}`: drop the streamed ' +
        'text of that step, a retry starts again). The `reply` of a step replaces its streamed text; a ' +
        '`turn.completed` drops any streamed text no reply confirmed. Without Last-Event-ID the stream starts ' +
        'at the beginning of the transcript; with it (or `?lastEventId=`) it resumes after that event, ' +
        'mid-answer included, with no gap and no repeat. Served from Postgres (NOTIFY wakes it), so any ' +
        'API instance can serve any stream. See docs/streaming.md.',
      access: 'key',
      params: conversationParams,
      query: z.object({
        lastEventId: z.string().max(80).optional().describe('For clients that cannot set Last-Event-ID'),
      }),
      headers: { 'Last-Event-ID': 'The id of the last event received' },
      responses: {
        200: {
          description:
            'An event stream. Frames: `id:` (pass it back as Last-Event-ID), `event:` (the name), `data:` ' +
            '(JSON; for the stream.* events one of the StreamEventData schemas)',
          contentType: 'text/event-stream',
        },
      },
    },
    async ({ params, query }, req, res) => {
      const tenant = tenantOf(req, res);
      const { workflowId } = await locateConversation(deps, tenant, params.channel, params.conversationId);
      const header = req.headers['last-event-id'];
      let cursor: EventCursor = parseEventId(typeof header === 'string' ? header : query.lastEventId) ?? {
        seq: 0,
        turns: 0,
      };

      res.status(200).set({
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Proxies (nginx) would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      res.write('retry: 2000\n\n');

      let open = true;
      const stop = () => (open = false);
      res.on('close', stop);
      deps.closing.addEventListener('abort', stop, { once: true });
      let lastWrite = Date.now();
      try {
        while (open) {
          const batch = await poll(deps.pool, workflowId, cursor);
          if (!open) break;
          if (batch.events.length) {
            res.write(batch.events.map(formatEvent).join(''));
            cursor = batch.cursor;
            lastWrite = Date.now();
          } else if (Date.now() - lastWrite > KEEPALIVE_MS) {
            res.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
          if (!batch.full)
            await (deps.notifications
              ? deps.notifications.wait(workflowId, deps.pollMs, deps.closing)
              : sleep(deps.pollMs, deps.closing));
        }
      } finally {
        deps.closing.removeEventListener('abort', stop);
        res.end();
      }
    },
  );
}

async function poll(pool: Pool, workflowId: string, cursor: EventCursor) {
  // Turns first, items second: every item of a completed turn is committed before its count.
  const turnsRow = await pool.query<{ turns: number }>('SELECT turns FROM conversations WHERE id = $1', [
    workflowId,
  ]);
  const completed = turnsRow.rows[0]?.turns ?? 0;
  const { rows } = await pool.query<{
    seq: string;
    turn: number | null;
    item_key: string | null;
    item: Record<string, unknown>;
    created_at: Date;
    operator: string | null;
  }>(
    `SELECT s.seq, s.turn, s.item_key, s.item, s.created_at, o.operator FROM session_items s
       LEFT JOIN operator_messages o ON o.conversation_id = s.session_id AND o.item_key = s.item_key
      WHERE s.session_id = $1 AND s.seq > $2
      ORDER BY s.seq LIMIT ${BATCH}`,
    [workflowId, cursor.seq],
  );
  const items: EventItem[] = rows.map((r) => ({
    seq: Number(r.seq),
    turn: r.turn,
    itemKey: r.item_key,
    item: r.item,
    createdAt: r.created_at.toISOString(),
    operator: r.operator,
  }));
  const failed = new Set<number>();
  if (completed > cursor.turns) {
    const keys = [];
    for (let t = cursor.turns + 1; t <= completed; t++) keys.push(`t${t}/apology`);
    const f = await pool.query<{ turn: number }>(
      'SELECT turn FROM session_items WHERE session_id = $1 AND item_key = ANY($2::text[])',
      [workflowId, keys],
    );
    for (const r of f.rows) failed.add(r.turn);
  }
  // Deltas after items: a step's deltas are all written before its output, so any output item
  // read above comes with its whole stream here.
  const after = cursor.delta ?? { turn: 0, step: 0, attempt: 0, seq: -1 };
  const d = await pool.query<{
    turn: number;
    step: number;
    attempt: number;
    seq: number;
    kind: string;
    data: Record<string, unknown>;
    output_seq: string | null;
  }>(
    `SELECT d.turn, d.step, d.attempt, d.seq, d.kind, d.data, o.seq AS output_seq
       FROM stream_events d
       LEFT JOIN session_items o
         ON o.session_id = d.conversation_id AND o.item_key = 't' || d.turn || '/s' || d.step || '/o0'
      WHERE d.conversation_id = $1 AND (d.turn, d.step, d.attempt, d.seq) > ($2, $3, $4, $5)
      ORDER BY d.turn, d.step, d.attempt, d.seq LIMIT ${DELTA_BATCH}`,
    [workflowId, after.turn, after.step, after.attempt, after.seq],
  );
  const deltas: EventDelta[] = d.rows.map((r) => ({
    turn: r.turn,
    step: r.step,
    attempt: r.attempt,
    seq: r.seq,
    kind: r.kind,
    data: r.data,
    outputSeq: r.output_seq === null ? null : Number(r.output_seq),
  }));
  const deltasFull = d.rows.length === DELTA_BATCH;
  const cut = deltasFull ? deltas.at(-1)!.outputSeq : null;
  // A long step's stream spans batches: its output items wait until all of its deltas have gone.
  const sent = cut === null ? items : items.filter((i) => i.seq < cut);
  const itemsFull = rows.length === BATCH || sent.length < items.length;
  const plan = planEvents(cursor, sent, completed, itemsFull, failed, deltas, cut ?? undefined);
  return { ...plan, full: itemsFull || deltasFull };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
