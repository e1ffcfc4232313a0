import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ReEngagementInput, ReEngagementResult } from '../channels/whatsapp/reEngagement.js';
import { deliveryOptions } from './activityOptions.js';

const { sendReEngagementTemplate } = proxyActivities<Activities>(deliveryOptions);

/**
 * Sends the agent's WhatsApp template for a turn Meta refused in a status webhook (131047); the
 * API starts it (src/channels/whatsapp/reEngagement.ts), the delivery ledger makes it once.
 */
export async function whatsappReEngagementWorkflow(input: ReEngagementInput): Promise<ReEngagementResult> {
  return sendReEngagementTemplate(input);
}
