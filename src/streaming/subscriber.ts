import type { Pool, PoolClient } from '../store/pool.js';
import { STREAM_CHANNEL } from './publisher.js';

/**
 * One LISTEN connection per API instance, shared by all its open event streams: a NOTIFY for a
 * conversation wakes the streams of that conversation at once instead of at their next poll. The
 * poll stays as the fallback (a lost connection, a Postgres that does not deliver notifications,
 * such as the embedded one), so a missed wake-up costs latency, never events.
 */
export class StreamNotifications {
  private client: PoolClient | undefined;
  private connecting: Promise<void> | undefined;
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;
  /** After a failed connect, wait() does not try again before this time. */
  private retryAt = 0;

  constructor(private readonly pool: Pool) {}

  /** Resolves on a notification for the conversation, after `ms`, or when `signal` aborts. */
  wait(conversationId: string, ms: number, signal: AbortSignal): Promise<void> {
    void this.connect();
    return new Promise((resolve) => {
      const set = this.waiters.get(conversationId) ?? new Set<() => void>();
      this.waiters.set(conversationId, set);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(conversationId) === set) this.waiters.delete(conversationId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Whether the LISTEN connection is up (tests, health). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Connects (once) and resolves when LISTEN is in place, or when connecting failed. */
  connect(): Promise<void> {
    if (this.closed || this.client || Date.now() < this.retryAt) return Promise.resolve();
    this.connecting ??= this.listen().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (client) client.release(true);
  }

  private async listen(): Promise<void> {
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      client.on('notification', (n) => {
        if (n.channel !== STREAM_CHANNEL || !n.payload) return;
        for (const wake of [...(this.waiters.get(n.payload) ?? [])]) wake();
      });
      // A broken connection is dropped; the next wait() connects again, polls cover the gap.
      client.on('error', () => {
        if (this.client === client) this.client = undefined;
        client?.release(true);
      });
      await client.query(`LISTEN ${STREAM_CHANNEL}`);
      if (this.closed) client.release(true);
      else this.client = client;
    } catch {
      client?.release(true);
      this.retryAt = Date.now() + 5_000;
    }
  }
}
