import { context, trace, type Context, type Link } from '@opentelemetry/api';

/**
 * Which trace a turn belongs to. A conversation workflow lives for many turns, so its own
 * execution span belongs to the first message's trace; each turn instead continues the trace of
 * the message it answers (the signal or update handler's span), so that one trace runs from the
 * HTTP request through the turn's activities. Sandbox-safe: span ids come from the workflow's
 * seeded random, times from workflow time, and spans are not commands, so replay is unaffected.
 *
 * Filled only by the tracing interceptor (src/workflows/interceptors.ts); without it the map stays
 * empty and a turn runs exactly as it did before tracing existed.
 */
const messageContexts = new Map<string, Context>();

/** Called by the inbound interceptor inside a message handler's span. */
export function rememberMessageContext(messageId: string): void {
  if (trace.getSpan(context.active())) messageContexts.set(messageId, context.active());
}

/**
 * Runs a turn in a `Turn` span, child of the first traced message of the batch, linked to the
 * others (a burst answers several requests, each with its own trace).
 */
export function inTurnTrace<T>(batch: readonly { id: string }[], run: () => Promise<T>): Promise<T> {
  const traced = batch.flatMap((m) => {
    const ctx = messageContexts.get(m.id);
    messageContexts.delete(m.id);
    return ctx ? [ctx] : [];
  });
  const [parent, ...others] = traced;
  if (!parent) return run();
  const links: Link[] = others.flatMap((c) => {
    const spanContext = trace.getSpanContext(c);
    return spanContext ? [{ context: spanContext }] : [];
  });
  return context.with(parent, () =>
    trace
      .getTracer('threadline-workflow')
      .startActiveSpan('Turn', { links, attributes: { 'threadline.messages': batch.length } }, (span) =>
        run().finally(() => span.end()),
      ),
  );
}
