export interface RecordedRequest {
  method: string;
  path: string;
  /** 0 when the connection was dropped without a response. */
  status: number;
  requestId: string;
  requestBytes: number;
  responseBytes: number;
  /** Parsed JSON request body, if any. */
  body: unknown;
  /** Emulator time when the request arrived, epoch ms. */
  at: number;
  /** The response a `POST /v1/responses` created, also when its answer was lost (fault `lose_answer`). */
  responseId?: string;
  /** True when the request was handled but a `lose_answer` fault kept the answer from the client. */
  answerLost?: boolean;
}

/** Bounded request journal: keeps the most recent entries only. */
export class Journal {
  private entries: RecordedRequest[] = [];

  constructor(private readonly capacity = 1000) {}

  record(entry: RecordedRequest): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  list(limit?: number): RecordedRequest[] {
    return limit === undefined
      ? [...this.entries]
      : this.entries.slice(Math.max(0, this.entries.length - limit));
  }

  clear(): void {
    this.entries = [];
  }
}
