/**
 * The wire shapes of a migration: what the CLI and the API send, what the parent workflow hands its
 * children and activities, what the progress query answers. Plain JSON, importable from workflow
 * code (no Node APIs here).
 */

/** Where the user identifier for each thread comes from: a CSV/JSON file, or a table. */
export type MappingSpec = { file: string } | { table: string; userColumn?: string; threadColumn?: string };

export type SourceSpec =
  | {
      kind: 'assistants-api';
      /** An Assistants-compatible endpoint (a legacy proxy); default: the worker's OpenAI client. */
      baseUrl?: string;
      /** Which threads: these ids, else the mapping's, else the emulator's `/_emulator/threads` listing. */
      threadIds?: string[];
      mapping?: MappingSpec;
      /** Read run steps for tool calls and their outputs (one extra request per run). Default true. */
      toolCalls?: boolean;
    }
  | { kind: 'assistants-export'; file: string; mapping?: MappingSpec }
  | {
      kind: 'response-chains';
      /** CSV (`user,response_id`) or JSON (`[{user, responseId}]` or `{user: responseId}`). */
      file?: string;
      chains?: { externalId: string; responseId: string }[];
      baseUrl?: string;
    }
  | {
      kind: 'messages-table';
      table: string;
      columns?: Partial<MessagesTableColumns>;
    };

export interface MessagesTableColumns {
  key: string;
  role: string;
  content: string;
  createdAt: string;
  id: string;
}

export interface TargetSpec {
  tenant: string;
  channel: string;
  agent: string;
  /** Seed an OpenAI conversation with the last N items (≤ 20 per call) so the next turn continues server-side. */
  seedLastItems?: number;
}

export interface MigrationOptions {
  dryRun: boolean;
  /** K: children running at once. */
  window: number;
  /** N: children per run before continue-as-new. */
  continueAsNewEvery: number;
  /** Units read per page of the staged source. */
  pageSize: number;
}

export const DEFAULT_OPTIONS: MigrationOptions = {
  dryRun: false,
  window: 8,
  continueAsNewEvery: 200,
  pageSize: 50,
};

export interface Unit {
  id: string;
  externalId: string;
}

export type UnitStatus = 'done' | 'skipped' | 'failed';

export interface UnitResult {
  unitId: string;
  status: UnitStatus;
  /** Items added (a dry run: that would be added). */
  items: number;
  conversationId: string | null;
  reason: string | null;
}

export type MigrationStatus = 'preparing' | 'running' | 'paused' | 'cancelling' | 'cancelled' | 'completed';

export interface MigrationProgress {
  migrationId: string;
  status: MigrationStatus;
  dryRun: boolean;
  /** Units in the source; null until the source is staged. */
  total: number | null;
  done: number;
  failed: number;
  skipped: number;
  inFlight: number;
  items: number;
  /** Units finished per second since the start. */
  rate: number;
  /** Seconds left at that rate; null when unknown. */
  etaSeconds: number | null;
  elapsedSeconds: number;
  /** Unreadable source lines (`file:line`), with the first few locations. */
  sourceIssues: { count: number; first: string[] };
  /** The latest failures, newest last (all of them are in `migration_units`). */
  recentFailures: { unitId: string; reason: string }[];
}
