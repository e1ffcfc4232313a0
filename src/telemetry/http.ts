import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';

/**
 * One server span per request, continuing a caller's W3C `traceparent` when it sends one. The span
 * is named by the route pattern once routing knows it (`POST /v1/conversations/:channel/:id/messages`):
 * never the path, whose ids can be phone numbers, nor the query or the body.
 */
export function traceRequests(): RequestHandler {
  const tracer = trace.getTracer('threadline-api');
  return (req, res, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      req.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    // Body parsers continue from stream events, outside this call: bind them to the request's context.
    context.bind(active, req);
    context.bind(active, res);
    res.on('close', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : undefined;
      span.updateName(route ? `${req.method} ${route}` : `${req.method} unmatched`);
      if (route) span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(active, next);
  };
}
