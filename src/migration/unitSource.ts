import type { SourceSpec } from './types.js';

/**
 * What a unit needs of its source once the source is staged: where to read (an endpoint, a table)
 * and how, never the listing (inline thread ids, chains, a mapping or export file). The listing can
 * hold 10,000 entries; passed to every child it would be copied into each child's history.
 */
export type UnitSource =
  | { kind: 'assistants-api'; baseUrl?: string; toolCalls?: boolean }
  | { kind: 'assistants-export' }
  | { kind: 'response-chains'; baseUrl?: string }
  | {
      kind: 'messages-table';
      table: string;
      columns?: Extract<SourceSpec, { kind: 'messages-table' }>['columns'];
    };

/** A plain function of its input: workflow code calls it, so it must stay deterministic. */
export function unitSource(source: SourceSpec | UnitSource): UnitSource {
  switch (source.kind) {
    case 'assistants-api':
      return {
        kind: source.kind,
        ...(source.baseUrl !== undefined ? { baseUrl: source.baseUrl } : {}),
        ...(source.toolCalls !== undefined ? { toolCalls: source.toolCalls } : {}),
      };
    case 'assistants-export':
      return { kind: source.kind };
    case 'response-chains':
      return { kind: source.kind, ...(source.baseUrl !== undefined ? { baseUrl: source.baseUrl } : {}) };
    case 'messages-table':
      return {
        kind: source.kind,
        table: source.table,
        ...(source.columns !== undefined ? { columns: source.columns } : {}),
      };
  }
}
