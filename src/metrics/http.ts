import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** In-process metrics of one API instance: requests and webhook events. Sum these across instances. */
export interface ApiMetrics {
  registry: Registry;
  middleware: RequestHandler;
  webhookEvents: Counter<'channel' | 'kind'>;
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'threadline_api_' });
  const requests = new Counter({
    name: 'threadline_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'threadline_http_request_duration_seconds',
    help: 'HTTP request duration (SSE streams count until they close)',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const webhookEvents = new Counter({
    name: 'threadline_webhook_events_total',
    help: 'Channel webhook events: message, duplicate, status, unsupported, reaction',
    labelNames: ['channel', 'kind'] as const,
    registers: [registry],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on('close', () => {
      // The route pattern, never the path: ids must not become label values.
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  };
  return { registry, middleware, webhookEvents };
}
