import type { RequestHandler } from 'express';

/**
 * CORS for the listed origins only; with none configured the API sends no CORS headers at all, so
 * browsers on other origins cannot call it (the safe default for a server-to-server API).
 */
export function cors(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (allowed.size === 0 || !origin || !(allowed.has(origin) || allowed.has('*'))) return next();
    res.set({
      'access-control-allow-origin': allowed.has('*') ? '*' : origin,
      vary: 'Origin',
      'access-control-expose-headers': 'Retry-After, X-Request-Id',
    });
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res
        .set({
          'access-control-allow-methods': 'GET, POST, DELETE',
          'access-control-allow-headers':
            'Authorization, Content-Type, Last-Event-ID, X-Tenant, X-Request-Id',
          'access-control-max-age': '600',
        })
        .status(204)
        .end();
      return;
    }
    next();
  };
}
