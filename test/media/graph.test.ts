import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphMediaFetcher, MediaFetchError } from '../../src/media/graph.js';
import { DEFAULT_MEDIA_LIMITS } from '../../src/media/limits.js';

/** The Graph media fetcher against a local server whose download sends one byte, then nothing. */
let base = '';
const open = new Set<ServerResponse>();
const server = createServer((req, res) => {
  if (req.url === '/v23.0/m1')
    return res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ url: `${base}/download/m1`, mime_type: 'image/png', file_size: '8', id: 'm1' }));
  open.add(res.writeHead(200, { 'content-type': 'image/png', 'content-length': 8 }));
  res.write(Buffer.from([0x89]));
});
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of open) res.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('createGraphMediaFetcher', () => {
  it('a body that stops arriving ends at the timeout as a retryable MediaFetchError', async () => {
    const fetcher = createGraphMediaFetcher({ baseUrl: `${base}/v23.0`, accessToken: 't' });
    const started = Date.now();
    const err = await fetcher
      .fetch('m1', 'image', { ...DEFAULT_MEDIA_LIMITS, downloadTimeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaFetchError);
    expect(err).toMatchObject({ retryable: true, verdict: { problem: 'unavailable' } });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
