import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';
import type { Tracing } from './tracing.js';

/**
 * Temporal's OpenTelemetry interceptors, wired for Threadline: the client's start, signal and
 * update calls (update-with-start and signal-with-start included) carry the caller's trace into
 * the workflow's headers; the workflow's own spans (src/workflows/interceptors.ts) reach the
 * exporter through a sink; activities continue the trace of the workflow that scheduled them.
 */

/**
 * The workflow interceptor module: in the bundle only when tracing is on. Its extension is this
 * file's: .ts run from src/ with tsx, .js in the compiled package (dist/ holds no .ts).
 */
export const WORKFLOW_INTERCEPTORS_PATH = fileURLToPath(
  new URL(`../workflows/interceptors${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** The same client with tracing interceptors (it shares the connection). */
export function tracedClient(client: Client): Client {
  return new Client({
    connection: client.connection,
    namespace: client.options.namespace,
    interceptors: {
      ...client.options.interceptors,
      workflow: [
        ...workflowClientInterceptors(client.options.interceptors?.workflow),
        new OpenTelemetryWorkflowClientInterceptor(),
      ],
    },
  });
}

function workflowClientInterceptors<T>(given: T[] | object | undefined): T[] {
  return Array.isArray(given) ? given : [];
}

/** What a worker adds to its options when tracing is on. */
export function workerTracing(tracing: Tracing): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
