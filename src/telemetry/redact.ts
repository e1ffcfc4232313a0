import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace-base';

/**
 * The last gate before spans leave the process. Spans carry ids, names, counts and timings; error
 * messages do not leave (an OpenAI error can quote the request, a tool's can hold user text), and
 * neither do structured values (the sink that exports workflow spans copies the whole workflow info,
 * memo and search attributes included). What stays: primitive attributes, an exception's type.
 */
export function redactSpan(span: ReadableSpan): ReadableSpan {
  const spanContext = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => spanContext,
    parentSpanId: span.parentSpanId,
    startTime: span.startTime,
    endTime: span.endTime,
    status: { code: span.status.code },
    attributes: primitiveAttributes(span.attributes),
    links: span.links.map((l) => ({
      context: l.context,
      attributes: primitiveAttributes(l.attributes ?? {}),
    })),
    events: span.events.map(redactEvent),
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationLibrary: span.instrumentationLibrary,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

const DROPPED_EVENT_ATTRIBUTES = new Set(['exception.message', 'exception.stacktrace']);

function redactEvent(event: TimedEvent): TimedEvent {
  const attributes = Object.fromEntries(
    Object.entries(primitiveAttributes(event.attributes ?? {})).filter(
      ([key]) => !DROPPED_EVENT_ATTRIBUTES.has(key),
    ),
  );
  return {
    name: event.name,
    time: event.time,
    attributes,
    droppedAttributesCount: event.droppedAttributesCount,
  };
}

function primitiveAttributes(attributes: Attributes): Attributes {
  const kept: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (isPrimitive(value)) kept[key] = value;
  return kept;
}

function isPrimitive(value: unknown): value is AttributeValue {
  const scalar = (v: unknown) =>
    v === null || v === undefined || ['string', 'number', 'boolean'].includes(typeof v);
  return Array.isArray(value) ? value.every(scalar) : value !== null && value !== undefined && scalar(value);
}

/** Wraps the OTLP exporter so that every span, from the worker, its workflows or the API, is redacted. */
export class RedactingExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans.map(redactSpan), done);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
