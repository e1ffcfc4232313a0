// Workflow interceptor module (bundled into the sandbox only when tracing is on: see
// src/telemetry/temporal.ts). Deterministic: no I/O, spans leave through the `exporter` sink.
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type {
  Next,
  SignalInput,
  UpdateInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
} from '@temporalio/workflow';
import { messageSignal, sendMessageUpdate } from './messages.js';
import { rememberMessageContext } from './turnTrace.js';

/** Runs inside Temporal's handler span: remembers it as the parent of the turn that answers the message. */
class MessageTraceInterceptor implements WorkflowInboundCallsInterceptor {
  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
    if (input.signalName === messageSignal.name) remember(input.args[0]);
    return next(input);
  }

  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>) {
    if (input.name === sendMessageUpdate.name) remember(input.args[0]);
    return next(input);
  }
}

function remember(message: unknown): void {
  const id = (message as { id?: unknown } | undefined)?.id;
  if (typeof id === 'string') rememberMessageContext(id);
}

export const interceptors = (): WorkflowInterceptors => ({
  // The first interceptor is the outermost: Temporal's span is open when ours runs.
  inbound: [new OpenTelemetryInboundInterceptor(), new MessageTraceInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
