import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TelemetryConfig } from '../config.js';
import { RedactingExporter } from './redact.js';

/** A running tracer provider: what the worker's sinks and the API's middleware export through. */
export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Exports every finished span now (tests, and before a process exits). */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** How often finished spans are sent (OpenTelemetry's default is 5 s). */
  exportDelayMs?: number;
  /** Another exporter than OTLP/HTTP (bench and tests); it is redacted all the same. */
  exporter?: SpanExporter;
}

/**
 * Registers the process-wide tracer provider, exporting over OTLP/HTTP (JSON) when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; returns undefined otherwise, and then nothing is loaded into
 * the workflow bundle, no interceptor runs and every span is OpenTelemetry's no-op.
 */
export function startTracing(
  config: TelemetryConfig,
  defaultServiceName: string,
  options: TracingOptions = {},
): Tracing | undefined {
  if (!config.otlpEndpoint) return undefined;
  const resource = new Resource({ 'service.name': config.serviceName ?? defaultServiceName });
  const exporter =
    options.exporter ??
    new OTLPTraceExporter({ url: tracesUrl(config.otlpEndpoint), headers: config.otlpHeaders });
  const spanProcessor = new BatchSpanProcessor(new RedactingExporter(exporter), {
    scheduledDelayMillis: options.exportDelayMs ?? 5_000,
  });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  return {
    resource,
    spanProcessor,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** The signal path the OpenTelemetry spec appends to a base OTEL_EXPORTER_OTLP_ENDPOINT. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}
