import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import type { Access } from './auth.js';
import { methodNotAllowed } from './errors.js';

/**
 * A route is declared once, as data: method, path, the zod schemas of its params, query and body,
 * and its responses. The same declaration validates requests and produces the OpenAPI document
 * (src/api/openapi.ts), so the two cannot drift.
 */

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json. */
  contentType?: string;
  /**
   * OpenAPI links: the operations this response leads to and where their parameters come from
   * (`$request.path.x`, `$response.body#/id`). Clients and the fuzzer's stateful phase follow them.
   */
  links?: Record<string, { operationId: string; parameters: Record<string, string> }>;
}

export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI form: `/v1/conversations/{channel}/{conversationId}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** 'none': public; 'signature': a channel webhook verified by its own signature. */
  access: Access | 'none' | 'signature';
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The body arrives as raw bytes (a signed webhook verifies them first); `body` then only
   * documents it and the handler validates after the signature check.
   */
  rawBody?: boolean;
  /** Extra request headers worth documenting. */
  headers?: Record<string, string>;
  responses: Record<number, ResponseSpec>;
}

export interface Parsed<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
}

export type Handler<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> = (
  input: Parsed<P, Q, B>,
  req: Request,
  res: Response,
) => Promise<void> | void;

/** `{id}` -> `:id` */
export function expressPath(openApiPath: string): string {
  return openApiPath.replace(/\{(\w+)\}/g, ':$1');
}

export class Routes {
  readonly router = Router();
  readonly specs: RouteSpec[] = [];

  /** `guard(access)` returns the middleware that enforces a route's access (auth, rate limit). */
  constructor(private readonly guard: (access: RouteSpec['access']) => RequestHandler[]) {}

  add<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
    spec: RouteSpec<P, Q, B>,
    handler: Handler<P, Q, B>,
    before: RequestHandler[] = [],
  ): void {
    this.specs.push(spec as unknown as RouteSpec);
    this.router[spec.method](
      expressPath(spec.path),
      ...before,
      ...this.guard(spec.access),
      async (req: Request, res: Response) => {
        // Access first, then validation: an unauthenticated caller learns nothing about the schema.
        const input = {
          params: spec.params ? spec.params.parse(req.params) : {},
          query: spec.query ? spec.query.parse(req.query) : {},
          body: spec.body && !spec.rawBody ? spec.body.parse(req.body ?? {}) : undefined,
        } as Parsed<P, Q, B>;
        await handler(input, req, res);
      },
    );
  }
}

/**
 * 405 with `Allow` for a path the API declares under other methods (after every router, before the
 * 404): the methods are the declared ones, so the answer and the document agree.
 */
export function rejectUndeclaredMethods(specs: readonly RouteSpec[]): RequestHandler {
  const paths = new Map<string, { pattern: RegExp; methods: string[] }>();
  for (const spec of specs) {
    const entry = paths.get(spec.path) ?? { pattern: pathPattern(spec.path), methods: [] };
    entry.methods.push(spec.method.toUpperCase());
    paths.set(spec.path, entry);
  }
  return (req, _res, next) => {
    const allow = [...paths.values()].filter((p) => p.pattern.test(req.path)).flatMap((p) => p.methods);
    if (allow.length === 0 || allow.includes(req.method)) {
      next();
      return;
    }
    next(methodNotAllowed(req.method, req.path, [...new Set(allow)]));
  };
}

/** `/v1/x/{id}` -> a RegExp matching what Express routes there (case-insensitive, optional final /). */
function pathPattern(openApiPath: string): RegExp {
  const source = openApiPath
    .split(/\{\w+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${source}/?$`, 'i');
}
