import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Item } from './items.js';
import type { Metadata } from './validation.js';

/** A stored response: the wire object plus what chaining needs. */
export interface StoredResponse {
  response: Record<string, unknown> & { id: string; output: Item[] };
  inputItems: Item[];
  createdAtMs: number;
  /** Set by the expire control; retention by age is computed from createdAtMs. */
  forcedExpired: boolean;
  deleted: boolean;
}

export interface StoredConversation {
  id: string;
  created_at: number;
  metadata: Metadata;
  items: Item[];
}

interface PersistedState {
  version: 1;
  clockOffsetMs: number;
  responses: StoredResponse[];
  conversations: StoredConversation[];
}

/** The in-memory store. Deleted and expired responses stay as tombstones so later links in a chain keep their context. */
export class EmulatorState {
  readonly responses = new Map<string, StoredResponse>();
  readonly conversations = new Map<string, StoredConversation>();
  private listener: (() => void) | undefined;

  onChange(listener: () => void): void {
    this.listener = listener;
  }

  changed(): void {
    this.listener?.();
  }

  clear(): void {
    this.responses.clear();
    this.conversations.clear();
    this.changed();
  }

  toJSON(clockOffsetMs: number): PersistedState {
    return {
      version: 1,
      clockOffsetMs,
      responses: [...this.responses.values()],
      conversations: [...this.conversations.values()],
    };
  }

  load(data: PersistedState): { clockOffsetMs: number } {
    this.responses.clear();
    this.conversations.clear();
    for (const r of data.responses) this.responses.set(r.response.id, r);
    for (const c of data.conversations) this.conversations.set(c.id, c);
    return { clockOffsetMs: data.clockOffsetMs };
  }
}

/** Debounced JSON persistence so a dev restart keeps stored responses and conversations. */
export class StateFile {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly path: string,
    private readonly snapshot: () => unknown,
    private readonly debounceMs = 200,
  ) {}

  read(): PersistedState | undefined {
    if (!existsSync(this.path)) return undefined;
    const data = JSON.parse(readFileSync(this.path, 'utf8')) as PersistedState;
    if (data.version !== 1) throw new Error(`Unsupported emulator state file version in ${this.path}`);
    return data;
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, this.debounceMs);
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.write();
  }

  private write(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot()));
    renameSync(tmp, this.path);
  }
}
