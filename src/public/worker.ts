/**
 * `threadline/worker`: a Temporal worker running your agents in your own process.
 *
 * Context: Node, the worker process only (it loads Temporal's native worker and bundles the
 * workflows). Not for workflow code and not needed by an API process.
 */
export {
  createWorker,
  bundleWorkflows,
  runWorker,
  WORKFLOWS_PATH as workflowsPath,
  type WorkerDeps,
} from '../worker.js';
export { createRegistry, type AgentRegistry } from '../agents/registry.js';
export { buildSenders } from '../channels/senders.js';
export { loadConfig, type Config } from '../config.js';
export { createOpenAIClient } from '../openaiClient.js';
export { migrate } from '../store/migrate.js';
export { createPool, type Pool } from '../store/pool.js';
