import type { MigrationProgress, MigrationStatus, Unit, UnitResult } from '../migration/types.js';

/** What a migration parent carries across continue-as-new: a cursor and counters, never content. */
export interface CarriedMigration {
  cursor: string | null;
  /** Units read from the last page but not started yet. */
  buffer: Unit[];
  exhausted: boolean;
  total: number | null;
  done: number;
  failed: number;
  skipped: number;
  items: number;
  startedAt: number;
  paused: boolean;
  sourceIssues: { count: number; first: string[] };
  recentFailures: { unitId: string; reason: string }[];
}

export const RECENT_FAILURES = 20;

/** What a batch child reports: counts, not one result per unit (each unit's row is in Postgres). */
export interface BatchResult {
  done: number;
  failed: number;
  skipped: number;
  items: number;
  /** The batch's latest failures, newest last, at most RECENT_FAILURES. */
  failures: { unitId: string; reason: string }[];
  /** Units not started because the parent asked the batch to stop (pause, cancel). */
  unstarted: Unit[];
}

/** Adds one unit's result to a batch's report. */
export function addToBatch(batch: BatchResult, result: UnitResult): void {
  batch.items += result.items;
  if (result.status === 'done') batch.done += 1;
  else if (result.status === 'skipped') batch.skipped += 1;
  else {
    batch.failed += 1;
    batch.failures.push({ unitId: result.unitId, reason: result.reason ?? 'unknown' });
    if (batch.failures.length > RECENT_FAILURES) batch.failures.shift();
  }
}

/** The parent's logic, kept out of the workflow function so that it is unit-testable. */
export class MigrationState {
  cursor: string | null;
  buffer: Unit[];
  exhausted: boolean;
  total: number | null;
  done: number;
  failed: number;
  skipped: number;
  items: number;
  readonly startedAt: number;
  paused: boolean;
  cancelRequested = false;
  sourceIssues: { count: number; first: string[] };
  recentFailures: { unitId: string; reason: string }[];
  /** Units started and not yet finished, by id. */
  readonly inFlight = new Set<string>();
  /** Units of running batches that have already reported, by batch. */
  readonly reported = new Map<string, number>();

  constructor(carried: CarriedMigration | undefined, now: number) {
    this.cursor = carried?.cursor ?? null;
    this.buffer = carried?.buffer ?? [];
    this.exhausted = carried?.exhausted ?? false;
    this.total = carried?.total ?? null;
    this.done = carried?.done ?? 0;
    this.failed = carried?.failed ?? 0;
    this.skipped = carried?.skipped ?? 0;
    this.items = carried?.items ?? 0;
    this.startedAt = carried?.startedAt ?? now;
    this.paused = carried?.paused ?? false;
    this.sourceIssues = carried?.sourceIssues ?? { count: 0, first: [] };
    this.recentFailures = carried?.recentFailures ?? [];
  }

  get finished(): number {
    return this.done + this.failed + this.skipped;
  }

  /** True when no unit is left to start (the page buffer is empty and the source is exhausted). */
  get drained(): boolean {
    return this.exhausted && this.buffer.length === 0;
  }

  /** A child may start now: not paused, not cancelled, and the window has room. */
  canStart(window: number): boolean {
    return !this.paused && !this.cancelRequested && this.inFlight.size < window;
  }

  takePage(units: Unit[], next: string | null): void {
    this.buffer.push(...units);
    this.cursor = next;
    if (next === null) this.exhausted = true;
  }

  start(): Unit | undefined {
    const unit = this.buffer.shift();
    if (unit) this.inFlight.add(unit.id);
    return unit;
  }

  record(result: UnitResult): void {
    this.inFlight.delete(result.unitId);
    this.items += result.items;
    if (result.status === 'done') this.done += 1;
    else if (result.status === 'skipped') this.skipped += 1;
    else {
      this.failed += 1;
      this.recentFailures.push({ unitId: result.unitId, reason: result.reason ?? 'unknown' });
      if (this.recentFailures.length > RECENT_FAILURES) this.recentFailures.shift();
    }
  }

  /** Up to `size` units from the buffer as one batch, all of them in flight until it reports. */
  startBatch(size: number): Unit[] {
    const units = this.buffer.splice(0, size);
    for (const unit of units) this.inFlight.add(unit.id);
    return units;
  }

  /** A batch's report: its counts, its failures, and the units it did not start (back to the buffer, first). */
  recordBatch(units: Unit[], result: BatchResult, batchId?: string): void {
    for (const unit of units) this.inFlight.delete(unit.id);
    if (batchId !== undefined) this.reported.delete(batchId);
    this.addCounts(result);
    this.buffer.unshift(...result.unstarted);
  }

  /** Counts a running batch reported: they show in progress before the batch ends. */
  reportBatch(batchId: string, counts: Omit<BatchResult, 'unstarted'>): void {
    this.reported.set(
      batchId,
      (this.reported.get(batchId) ?? 0) + counts.done + counts.failed + counts.skipped,
    );
    this.addCounts(counts);
  }

  private addCounts(result: Omit<BatchResult, 'unstarted'>): void {
    this.done += result.done;
    this.failed += result.failed;
    this.skipped += result.skipped;
    this.items += result.items;
    this.recentFailures.push(...result.failures);
    this.recentFailures.splice(0, Math.max(0, this.recentFailures.length - RECENT_FAILURES));
  }

  carry(): CarriedMigration {
    return {
      cursor: this.cursor,
      buffer: this.buffer,
      exhausted: this.exhausted,
      total: this.total,
      done: this.done,
      failed: this.failed,
      skipped: this.skipped,
      items: this.items,
      startedAt: this.startedAt,
      paused: this.paused,
      sourceIssues: this.sourceIssues,
      recentFailures: this.recentFailures,
    };
  }

  progress(migrationId: string, status: MigrationStatus, dryRun: boolean, now: number): MigrationProgress {
    const elapsedSeconds = Math.max(0, (now - this.startedAt) / 1000);
    const rate = elapsedSeconds > 0 ? this.finished / elapsedSeconds : 0;
    const left = this.total === null ? null : Math.max(0, this.total - this.finished);
    return {
      migrationId,
      status,
      dryRun,
      total: this.total,
      done: this.done,
      failed: this.failed,
      skipped: this.skipped,
      inFlight: this.inFlight.size - [...this.reported.values()].reduce((a, b) => a + b, 0),
      items: this.items,
      rate: Math.round(rate * 100) / 100,
      etaSeconds: left === null ? null : left === 0 ? 0 : rate > 0 ? Math.round(left / rate) : null,
      elapsedSeconds: Math.round(elapsedSeconds),
      sourceIssues: this.sourceIssues,
      recentFailures: this.recentFailures,
    };
  }
}
