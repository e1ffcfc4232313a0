import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A rate limit in front of the emulator: a token bucket of `perSecond` requests per second on
 * /v1 (burst: `burstSeconds` worth, default one second's), answering the excess with 429 and `Retry-After: 1`,
 * the way the API's request limit does. The emulator's own 429 faults are counted, not timed,
 * so a rate needs this proxy. Admin routes (/_emulator) pass unlimited.
 */
export interface RateLimitProxy {
  baseUrl: string;
  /** The bucket's size: what may pass at once on top of the rate. */
  capacity: number;
  stats(): { allowed: number; limited: number };
  close(): Promise<void>;
}

export async function startRateLimitProxy(
  origin: string,
  perSecond: number,
  burstSeconds = 1,
): Promise<RateLimitProxy> {
  const target = new URL(origin);
  const capacity = Math.max(1, perSecond * burstSeconds);
  let tokens = capacity;
  let last = performance.now();
  let allowed = 0;
  let limited = 0;
  const take = () => {
    const now = performance.now();
    tokens = Math.min(capacity, tokens + ((now - last) / 1000) * perSecond);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/v1/')) {
      if (!take()) {
        limited++;
        req.resume();
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(
          JSON.stringify({
            error: {
              message: 'Rate limit reached for requests.',
              type: 'requests',
              code: 'rate_limit_exceeded',
              param: null,
            },
          }),
        );
        return;
      }
      allowed++;
    }
    const upstream = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    capacity,
    stats: () => ({ allowed, limited }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
