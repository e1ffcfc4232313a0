import { ALL_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes.js';

/**
 * The conversation workflow sets its search attributes (ThreadlineTenant, ..., ThreadlineHumanMode)
 * as it runs. On a namespace that lacks one, Temporal rejects that workflow task (BadSearchAttributes)
 * and retries it without end: the worker looks healthy and every conversation hangs. The worker and
 * the API check at start instead, and refuse to start with the command that fixes it.
 */

/** The indexed value types Temporal answers in ListSearchAttributes (temporal.api.enums.v1). */
const INDEXED_TYPES: Record<number, string> = {
  1: 'TEXT',
  2: 'KEYWORD',
  3: 'INT',
  4: 'DOUBLE',
  5: 'BOOL',
  6: 'DATETIME',
  7: 'KEYWORD_LIST',
};
const CLI_TYPES: Record<string, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export interface SearchAttributeProblem {
  name: string;
  /** The SDK's type name (KEYWORD, BOOL, ...). */
  type: string;
  /** The type the namespace has it with; null: it lacks it. */
  found: string | null;
}

/** What the namespace's custom attributes lack or hold with another type. Pure. */
export function searchAttributeProblems(
  registered: Record<string, number | string>,
  required: readonly { name: string; type: string }[] = ALL_SEARCH_ATTRIBUTES,
): SearchAttributeProblem[] {
  return required.flatMap((key): SearchAttributeProblem[] => {
    const raw = registered[key.name];
    if (raw === undefined) return [{ name: key.name, type: key.type, found: null }];
    const found =
      typeof raw === 'number' ? (INDEXED_TYPES[raw] ?? String(raw)) : raw.replace(/^INDEXED_VALUE_TYPE_/, '');
    return found === key.type ? [] : [{ name: key.name, type: key.type, found }];
  });
}

/** The start-up error: each attribute, what is wrong, and the command that creates it. */
export function searchAttributesMessage(namespace: string, problems: SearchAttributeProblem[]): string {
  const lines = problems.map((p) =>
    p.found === null
      ? `  ${p.name} (${CLI_TYPES[p.type] ?? p.type}) is missing: temporal operator search-attribute create --namespace ${namespace} --name ${p.name} --type ${CLI_TYPES[p.type] ?? p.type}`
      : `  ${p.name} is ${CLI_TYPES[p.found] ?? p.found}, Threadline needs ${CLI_TYPES[p.type] ?? p.type}: a search attribute's type cannot change; use a namespace where it is ${CLI_TYPES[p.type] ?? p.type}`,
  );
  return (
    `The Temporal namespace "${namespace}" lacks Threadline's search attributes; conversations would hang ` +
    `(every workflow task refused). Create them once per namespace (docs/deploy.md):\n${lines.join('\n')}`
  );
}

export class MissingSearchAttributesError extends Error {
  constructor(
    readonly namespace: string,
    readonly problems: SearchAttributeProblem[],
  ) {
    super(searchAttributesMessage(namespace, problems));
    this.name = 'MissingSearchAttributesError';
  }
}

/** Either connection type (client Connection, worker NativeConnection) carries the operator service. */
export interface OperatorConnection {
  operatorService: {
    listSearchAttributes(request: {
      namespace: string;
    }): Promise<{ customAttributes?: Record<string, number | string> | null }>;
  };
}

/** Throws MissingSearchAttributesError unless the namespace has every Threadline search attribute. */
export async function checkSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const problems = searchAttributeProblems(customAttributes ?? {});
  if (problems.length) throw new MissingSearchAttributesError(namespace, problems);
}
