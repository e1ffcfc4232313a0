import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { redactSpan } from '../../src/telemetry/redact.js';
import { startTracing, tracesUrl } from '../../src/telemetry/tracing.js';

function span(overrides: Partial<ReadableSpan> = {}): ReadableSpan {
  const context = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED };
  return {
    name: 'RunActivity:callModel',
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanId: 'c'.repeat(16),
    startTime: [1, 0],
    endTime: [2, 0],
    status: { code: SpanStatusCode.ERROR, message: 'Invalid prompt: "my secret message"' },
    attributes: {
      temporalWorkflowId: 'conversation:acme:web:1',
      attempt: 2,
      ok: true,
      tags: ['a', 'b'],
      // What the workflow sink copies from workflow info: structured values.
      memo: { note: 'my secret message' } as unknown as string,
      searchAttributes: { TenantId: ['acme'] } as unknown as string,
    },
    links: [],
    events: [
      {
        name: 'exception',
        time: [1, 5],
        attributes: {
          'exception.type': 'OpenAI400',
          'exception.message': 'Invalid prompt: "my secret message"',
          'exception.stacktrace': 'Error: my secret message\n    at ...',
        },
      },
    ],
    duration: [1, 0],
    ended: true,
    resource: new Resource({ 'service.name': 'test' }),
    instrumentationLibrary: { name: 'test' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
    ...overrides,
  };
}

describe('redactSpan', () => {
  it('keeps ids, names, timings, primitive attributes and the exception type', () => {
    const out = redactSpan(span());
    expect(out.spanContext().spanId).toBe('b'.repeat(16));
    expect(out.parentSpanId).toBe('c'.repeat(16));
    expect(out.name).toBe('RunActivity:callModel');
    expect(out.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(out.attributes).toEqual({
      temporalWorkflowId: 'conversation:acme:web:1',
      attempt: 2,
      ok: true,
      tags: ['a', 'b'],
    });
    expect(out.events).toEqual([
      {
        name: 'exception',
        time: [1, 5],
        attributes: { 'exception.type': 'OpenAI400' },
        droppedAttributesCount: undefined,
      },
    ]);
  });

  it('lets no error text or structured value through', () => {
    expect(JSON.stringify(redactSpan(span()))).not.toContain('secret');
  });
});

describe('tracing configuration', () => {
  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT: no provider, nothing to export', () => {
    const config = loadConfig({});
    expect(config.telemetry).toEqual({ otlpEndpoint: undefined, otlpHeaders: {}, serviceName: undefined });
    expect(startTracing(config.telemetry, 'threadline')).toBeUndefined();
  });

  it('reads the endpoint, the headers and the service name', () => {
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D, x-team = core',
      OTEL_SERVICE_NAME: 'threadline-eu',
    });
    expect(config.telemetry).toEqual({
      otlpEndpoint: 'https://otlp.example.com:4318',
      otlpHeaders: { 'x-api-key': 'abc==', 'x-team': 'core' },
      serviceName: 'threadline-eu',
    });
    expect(tracesUrl(config.telemetry.otlpEndpoint!)).toBe('https://otlp.example.com:4318/v1/traces');
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT is not an http(s) URL'],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_EXPORTER_OTLP_HEADERS: 'secretvalue' },
      'OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs',
    ],
    [
      { OTEL_EXPORTER_OTLP_HEADERS: 'a=b' },
      'OTEL_EXPORTER_OTLP_HEADERS only applies with OTEL_EXPORTER_OTLP_ENDPOINT',
    ],
  ])('rejects %o naming the variable and the fix, never echoing a header', (env, problem) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(problem);
    expect((error as ConfigError).message).not.toContain('secretvalue');
  });
});
