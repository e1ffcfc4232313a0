import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for graph.facebook.com: the media endpoints (`GET /{media-id}` answering
 * `{messaging_product, url, mime_type, sha256, file_size, id}`, then `GET url`, both with the bearer
 * token) and `POST /{phone-number-id}/messages`. Media ids it does not hold answer Meta's 404 error;
 * `expire(id)` makes a held id's download URL answer 404 (an expired URL).
 */
export interface FakeGraph {
  /** e.g. http://127.0.0.1:port/v23.0 */
  baseUrl: string;
  addMedia(id: string, media: { bytes: Buffer; mimeType: string; declaredSize?: number }): void;
  expire(id: string): void;
  /** The id's download answers its headers, then never the body (a media URL that times out). */
  stall(id: string): void;
  sends: { path: string; auth: string | undefined; body: Record<string, unknown> }[];
  /** Media lookups and downloads served, by media id. */
  lookups: Map<string, number>;
  downloads: Map<string, number>;
  close(): Promise<void>;
}

export async function startFakeGraph(token: string): Promise<FakeGraph> {
  const media = new Map<string, { bytes: Buffer; mimeType: string; declaredSize?: number }>();
  const expired = new Set<string>();
  const stalled = new Set<string>();
  const open = new Set<ServerResponse>();
  const sends: FakeGraph['sends'] = [];
  const lookups = new Map<string, number>();
  const downloads = new Map<string, number>();
  let origin = '';
  const metaError = (message: string, code: number) =>
    JSON.stringify({ error: { message, type: 'OAuthException', code, fbtrace_id: 'Atrace' } });

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const json = (status: number, body: string) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      if (req.headers.authorization !== `Bearer ${token}`)
        return json(401, metaError('Invalid OAuth access token.', 190));
      const url = new URL(req.url ?? '/', origin);
      const send = /^\/v23\.0\/([^/]+)\/messages$/.exec(url.pathname);
      if (req.method === 'POST' && send) {
        sends.push({ path: url.pathname, auth: req.headers.authorization, body: JSON.parse(raw) });
        return json(
          200,
          JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: `wamid.out${sends.length}` }] }),
        );
      }
      const download = /^\/download\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && download) {
        const id = decodeURIComponent(download[1]!);
        downloads.set(id, (downloads.get(id) ?? 0) + 1);
        const m = media.get(id);
        if (!m || expired.has(id)) return json(404, metaError('URL signature expired', 100));
        if (stalled.has(id)) {
          open.add(res.writeHead(200, { 'content-type': m.mimeType, 'content-length': m.bytes.length }));
          return res.write(m.bytes.subarray(0, 1));
        }
        return res.writeHead(200, { 'content-type': m.mimeType }).end(m.bytes);
      }
      const lookup = /^\/v23\.0\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && lookup) {
        const id = decodeURIComponent(lookup[1]!);
        lookups.set(id, (lookups.get(id) ?? 0) + 1);
        const m = media.get(id);
        if (!m)
          return json(
            404,
            metaError(
              `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
              100,
            ),
          );
        return json(
          200,
          JSON.stringify({
            messaging_product: 'whatsapp',
            url: `${origin}/download/${encodeURIComponent(id)}`,
            mime_type: m.mimeType,
            sha256: createHash('sha256').update(m.bytes).digest('hex'),
            file_size: String(m.declaredSize ?? m.bytes.length),
            id,
          }),
        );
      }
      json(404, metaError('Unknown path', 100));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl: `${origin}/v23.0`,
    addMedia: (id, m) => media.set(id, m),
    expire: (id) => expired.add(id),
    stall: (id) => stalled.add(id),
    sends,
    lookups,
    downloads,
    close: () => {
      for (const res of open) res.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
