import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * A request id (the caller's X-Request-Id when it is sane, else a new one), echoed back, and a
 * child logger in res.locals.log that routes enrich with tenant and workflow id. One line per
 * request at info: method, route pattern, status, duration. No headers, bodies or query strings:
 * they can hold keys and message text.
 */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.set('x-request-id', requestId);
    res.locals.requestId = requestId;
    res.locals.log = log.child({ requestId });
    const started = process.hrtime.bigint();
    res.on('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : undefined;
      const line = {
        method: req.method,
        route: route ?? 'unmatched',
        status: res.statusCode,
        ms: Math.round(ms),
      };
      const l = res.locals.log as Logger;
      if (res.statusCode >= 500) l.error(line, 'request');
      else l.info(line, 'request');
    });
    next();
  };
}
