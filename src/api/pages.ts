import { readdirSync, readFileSync } from 'node:fs';
import { Router, type Request, type Response } from 'express';

/**
 * The web chat (`/`) and the operators' console (`/console`): static files from src/web, served
 * by the API itself (no extra server, no build step). The pages call the same public API as any
 * client, with the key the person types in; it stays in the tab's sessionStorage and the
 * Authorization header, never in a URL.
 */
export interface PagesOptions {
  /** `npm run dev` only: the dev tenant's key, handed to pages opened on this machine. */
  devKey?: { key: string; tenant: string } | undefined;
  /** The Temporal Web UI, for links from the console to a conversation's workflow. */
  temporalUiUrl?: string | undefined;
  namespace: string;
}

/**
 * The routes the pages add beside the API. They serve HTML and the pages' own files, not API
 * operations, so the OpenAPI document leaves them out (test/api/operations.test.ts checks both lists).
 */
export const PAGE_ROUTES = [
  'GET /',
  'GET /console',
  'GET /web/:file',
  'GET /pages/settings',
  'GET /dev/key',
] as const;

const WEB_DIR = new URL('../web/', import.meta.url);
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Read once: the set of files is fixed at start-up, so a request can only name one of them. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(WEB_DIR)) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type) assets.set(name, { type, body: readFileSync(new URL(name, WEB_DIR)) });
  }
  return assets;
}

function isLoopback(req: Request): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1';
}

export function pagesRouter(options: PagesOptions): Router {
  const assets = loadAssets();
  const router = Router();
  const send = (name: string) => (_req: Request, res: Response) => {
    const asset = assets.get(name);
    if (!asset) return res.status(404).end();
    res.set({ 'content-type': asset.type, 'cache-control': 'no-cache' }).send(asset.body);
  };
  router.get('/', send('index.html'));
  router.get('/console', send('console.html'));
  router.get('/web/:file', (req, res, next) => {
    const name = String(req.params.file);
    if (!assets.has(name) || name.endsWith('.html')) return next();
    send(name)(req, res);
  });
  router.get('/pages/settings', (_req, res) => {
    res.json({ temporalUi: options.temporalUiUrl ?? null, namespace: options.namespace });
  });
  router.get('/dev/key', (req, res, next) => {
    // Only in `npm run dev`, and only to a browser on this machine: the same key the terminal printed.
    if (!options.devKey || !isLoopback(req)) return next();
    res.set('cache-control', 'no-store').json(options.devKey);
  });
  return router;
}
