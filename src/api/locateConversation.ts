import type { Client } from '@temporalio/client';
import type { Pool } from '../store/pool.js';
import { conversationWorkflowId } from '../workflows/ids.js';
import { findConversation } from './conversationStore.js';
import { notFoundError } from './errors.js';
import { runStatus } from './runs.js';

/**
 * The conversation a request names, within the caller's tenant: its workflow id, its Postgres row and
 * whether a run is open. 404 when it has never existed (no row and no run).
 */
export async function locateConversation(
  deps: { pool: Pool; client: Client },
  tenant: string,
  channel: string,
  conversationId: string,
) {
  const workflowId = conversationWorkflowId({ tenant, channel, externalId: conversationId });
  const [row, run] = await Promise.all([
    findConversation(deps.pool, workflowId),
    runStatus(deps.client, workflowId),
  ]);
  if (!row && run === 'none')
    throw notFoundError(`No conversation ${channel}/${conversationId}.`, 'conversation_not_found');
  return { workflowId, row, run };
}
