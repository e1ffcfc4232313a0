/**
 * `threadline/workflows`: the workflow definitions, for a worker that bundles them itself
 * (`bundleWorkflowCode({ workflowsPath: require.resolve('threadline/workflows') })`).
 *
 * Context: Temporal's workflow sandbox. Deterministic code only: this module and everything it
 * imports run in the sandbox, so it imports nothing Node-only. `createWorker` from
 * `threadline/worker` already bundles it; most projects never import this.
 */
export * from '../workflows/index.js';
