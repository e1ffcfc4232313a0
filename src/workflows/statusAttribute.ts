import { upsertSearchAttributes } from '@temporalio/workflow';
import type { StatusValue, StatusChanges } from './statusChanges.js';
import { STATUS } from './searchAttributes.js';

/** Writes the status search attribute when `changes` says it must (statusChanges.ts). */
export function setStatus(changes: StatusChanges, status: StatusValue): void {
  const value = changes.next(status);
  if (value !== null) upsertSearchAttributes([{ key: STATUS, value }]);
}
