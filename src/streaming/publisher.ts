import type { Pool } from '../store/pool.js';
import { coalesce, toDelta, type Delta } from './deltas.js';
import { pruneStreamEvents } from './retention.js';

/** The NOTIFY channel; the payload is the conversation id whose stream or transcript moved. */
export const STREAM_CHANNEL = 'threadline_stream';

export interface StreamKey {
  conversationId: string;
  turn: number;
  step: number;
  /** The model activity's attempt: a retry streams as a new attempt and supersedes the earlier ones. */
  attempt: number;
}

/** Where a provider sends the events of a streamed call. */
export interface StreamSink {
  /** A streamed call starts. A second call in the same step supersedes what the first one streamed. */
  begin(): void;
  event(event: { type: string; [k: string]: unknown }): void;
}

/**
 * Publishes one model step's stream to Postgres: rows in stream_events and a NOTIFY, outside
 * Temporal. Writes never block the model call: deltas queue up while a write is in flight and go
 * out together in the next one, so the first delta is written at once and a fast stream costs as
 * many writes as Postgres can take, not one per token. Publishing is best effort: a failed write
 * is reported once and the step goes on (the transcript, written after, is the record).
 */
export class StepPublisher implements StreamSink {
  private seq = 0;
  private calls = 0;
  private published = 0;
  private readonly pending: Delta[] = [];
  private writing = false;
  private chain: Promise<void>;
  private warned = false;

  constructor(
    private readonly pool: Pool,
    private readonly key: StreamKey,
    private readonly warn: (message: string, attributes: Record<string, unknown>) => void,
  ) {
    this.chain = this.prepare();
  }

  begin(): void {
    this.calls += 1;
    if (this.calls > 1 && this.published > 0) this.push({ kind: 'superseded', data: { reason: 'recall' } });
  }

  event(event: { type: string; [k: string]: unknown }): void {
    const delta = toDelta(event);
    if (delta) this.push(delta);
  }

  /** Resolves when everything pushed so far is written: call before the step records its output. */
  async close(): Promise<void> {
    this.kick();
    await this.chain;
  }

  private push(delta: Delta): void {
    coalesce(this.pending, delta);
    this.published += 1;
    this.kick();
  }

  private kick(): void {
    if (this.writing || this.pending.length === 0) return;
    this.writing = true;
    this.chain = this.chain.then(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0);
        const first = this.seq + 1;
        this.seq += batch.length;
        await this.insert(batch, first).catch((e: unknown) => this.failed(e));
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * Prunes, then marks what earlier attempts of this step streamed as superseded (seq 0), before
   * this attempt's first delta: a client drops the partial answer before the new one begins.
   */
  private async prepare(): Promise<void> {
    const { conversationId, turn, step, attempt } = this.key;
    try {
      await pruneStreamEvents(this.pool, conversationId, turn);
      const { rows } = await this.pool.query<{ earlier: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM stream_events
           WHERE conversation_id = $1 AND turn = $2 AND step = $3 AND attempt < $4) AS earlier`,
        [conversationId, turn, step, attempt],
      );
      if (rows[0]?.earlier) await this.insert([{ kind: 'superseded', data: { reason: 'retry' } }], 0);
    } catch (e) {
      this.failed(e);
    }
  }

  private async insert(batch: Delta[], firstSeq: number): Promise<void> {
    const { conversationId, turn, step, attempt } = this.key;
    // One statement: the rows and the NOTIFY commit together, so a woken reader finds them.
    await this.pool.query(
      `WITH rows AS (
         INSERT INTO stream_events (conversation_id, turn, step, attempt, seq, kind, data)
         SELECT $1, $2, $3, $4, $5::int + (o - 1)::int, k, d
           FROM unnest($6::text[], $7::jsonb[]) WITH ORDINALITY AS t(k, d, o)
         RETURNING 1)
       SELECT pg_notify('${STREAM_CHANNEL}', $1) FROM (SELECT count(*) FROM rows) AS written`,
      [
        conversationId,
        turn,
        step,
        attempt,
        firstSeq,
        batch.map((d) => d.kind),
        batch.map((d) => JSON.stringify(d.data)),
      ],
    );
  }

  private failed(e: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.warn('could not publish the model stream; subscribers get the final answer only', {
      error: e instanceof Error ? e.message : String(e),
    });
  }
}

/** Wakes subscribers after something they read changed outside the stream (the step's output). */
export async function notifyConversation(
  db: { query(text: string, values: unknown[]): Promise<unknown> },
  conversationId: string,
): Promise<void> {
  await db.query(`SELECT pg_notify('${STREAM_CHANNEL}', $1)`, [conversationId]);
}
