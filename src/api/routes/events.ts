import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Pool } from '../../store/pool.js';
import { conversationWorkflowId } from '../../workflows/ids.js';
import { tenantOf } from '../auth.js';
import { findConversation } from '../conversationStore.js';
import { notFoundError } from '../errors.js';
import { formatEvent, parseEventId, planEvents, type EventCursor, type EventItem } from '../events.js';
import type { Routes } from '../route.js';
import { runStatus } from '../runs.js';
import { conversationParams } from '../schemas.js';

export interface EventsDeps {
  client: Client;
  pool: Pool;
  pollMs: number;
  /** Aborted when the server shuts down: open streams end so the drain can finish. */
  closing: AbortSignal;
}

const BATCH = 200;
const KEEPALIVE_MS = 15_000;

export function eventsRoutes(routes: Routes, deps: EventsDeps): void {
  routes.add(
    {
      method: 'get',
      path: '/v1/conversations/{channel}/{conversationId}/events',
      operationId: 'streamEvents',
      tag: 'Conversations',
      summary: 'Server-Sent Events: transcript items, replies and turn status',
      description:
        'Events `turn.started`, `item`, `reply` (an assistant message, with its text) and `turn.completed` ' +
        '(`answered` or `failed`), in transcript order. Without Last-Event-ID the stream starts at the ' +
        'beginning of the transcript; with it (or `?lastEventId=`) it resumes after that event. ' +
        'Served from Postgres, so any API instance can serve any stream.',
      access: 'key',
      params: conversationParams,
      query: z.object({
        lastEventId: z.string().max(40).optional().describe('For clients that cannot set Last-Event-ID'),
      }),
      headers: { 'Last-Event-ID': 'The id of the last event received' },
      responses: { 200: { description: 'An event stream', contentType: 'text/event-stream' } },
    },
    async ({ params, query }, req, res) => {
      const tenant = tenantOf(req, res);
      const workflowId = conversationWorkflowId({
        tenant,
        channel: params.channel,
        externalId: params.conversationId,
      });
      const [row, run] = await Promise.all([
        findConversation(deps.pool, workflowId),
        runStatus(deps.client, workflowId),
      ]);
      if (!row && run === 'none')
        throw notFoundError(
          `No conversation ${params.channel}/${params.conversationId}.`,
          'conversation_not_found',
        );
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
          if (!batch.full) await sleep(deps.pollMs, deps.closing);
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
  }>(
    `SELECT seq, turn, item_key, item, created_at FROM session_items WHERE session_id = $1 AND seq > $2
      ORDER BY seq LIMIT ${BATCH}`,
    [workflowId, cursor.seq],
  );
  const items: EventItem[] = rows.map((r) => ({
    seq: Number(r.seq),
    turn: r.turn,
    itemKey: r.item_key,
    item: r.item,
    createdAt: r.created_at.toISOString(),
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
  const full = rows.length === BATCH;
  return { ...planEvents(cursor, items, completed, full, failed), full };
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
