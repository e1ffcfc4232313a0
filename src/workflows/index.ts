// Everything the worker registers. Deterministic code only: this module and its imports are bundled
// into Temporal's workflow sandbox.
export { conversationWorkflow } from './conversation.js';
export { migrationWorkflow, migrateUnitWorkflow, migrateBatchWorkflow } from './migration.js';
export { purgeWorkflow } from './purge.js';
export { whatsappReEngagementWorkflow } from './reEngagement.js';
