import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';

/**
 * Every error leaves the API in the OpenAI envelope: {"error":{"type","code","message","param"}}.
 * `toErrorResponse` is the one mapping from anything thrown to a status, body and headers; it never
 * puts a stack or an internal message in the body.
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'rate_limit_error'
  | 'server_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code: string, param: string | null = null) =>
  new ApiError(400, 'invalid_request_error', message, code, param);
export const unauthorized = (message: string, code = 'invalid_api_key') =>
  new ApiError(401, 'authentication_error', message, code, null, { 'www-authenticate': 'Bearer' });
export const forbidden = (message: string, code = 'forbidden') =>
  new ApiError(403, 'permission_error', message, code);
export const notFoundError = (message: string, code = 'not_found') =>
  new ApiError(404, 'not_found_error', message, code);
export const methodNotAllowed = (method: string, path: string, allow: string[]) =>
  new ApiError(
    405,
    'invalid_request_error',
    `${method} is not allowed on ${path}: use ${allow.join(' or ')}.`,
    'method_not_allowed',
    null,
    { allow: allow.join(', ') },
  );
export const conflict = (message: string, code: string) => new ApiError(409, 'conflict_error', message, code);
export const tooManyRequests = (retryAfterSeconds: number) =>
  new ApiError(
    429,
    'rate_limit_error',
    `Rate limit reached for this API key. Retry after ${retryAfterSeconds} s.`,
    'rate_limit_exceeded',
    null,
    { 'retry-after': String(retryAfterSeconds) },
  );
export const unavailable = (message: string, code: string) =>
  new ApiError(503, 'server_error', message, code);

export interface ErrorBody {
  error: { type: string; code: string | null; message: string; param: string | null };
}

export function envelope(
  type: string,
  message: string,
  code: string | null,
  param: string | null,
): ErrorBody {
  return { error: { type, code, message, param } };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** Unexpected: the caller logs it (the client only learns that it happened). */
  unexpected: boolean;
}

/** Where a zod issue points, as the client wrote it: `metadata.a`, `items.0.text`. */
export function issueParam(issue: z.core.$ZodIssue): string | null {
  return issue.path.map(String).join('.') || null;
}

export function toErrorResponse(err: unknown): ErrorResponse {
  const make = (status: number, e: ErrorBody['error'], headers: Record<string, string> = {}) => ({
    status,
    body: { error: e },
    headers,
    unexpected: false,
  });
  if (err instanceof z.ZodError) {
    const issue = err.issues[0]!;
    const param = issueParam(issue);
    const more = err.issues.length > 1 ? ` (and ${err.issues.length - 1} more problem(s))` : '';
    // A refine may name a more specific code (`params: { code }`).
    const code = issue.code === 'custom' ? (issue.params as { code?: string } | undefined)?.code : undefined;
    return make(400, {
      type: 'invalid_request_error',
      code: code ?? 'invalid_value',
      message: `${param ?? 'body'}: ${issue.message}${more}`,
      param,
    });
  }
  if (err instanceof ApiError) {
    return make(
      err.status,
      { type: err.type, code: err.code, message: err.message, param: err.param },
      err.headers,
    );
  }
  // A path with broken percent-encoding (`%E0%A4%A`) fails in the router before any handler.
  if (err instanceof URIError)
    return make(400, {
      type: 'invalid_request_error',
      code: 'invalid_path',
      message: 'The path is not valid percent-encoded UTF-8.',
      param: null,
    });
  // body-parser errors carry a status and a type; their messages may quote the body, so never echo.
  const e = err as { type?: string } | null;
  if (e?.type === 'entity.parse.failed')
    return make(400, {
      type: 'invalid_request_error',
      code: 'invalid_json',
      message: 'The body is not valid JSON.',
      param: null,
    });
  if (e?.type === 'entity.too.large')
    return make(413, {
      type: 'invalid_request_error',
      code: 'body_too_large',
      message: 'The body is too large.',
      param: null,
    });
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    return make(415, {
      type: 'invalid_request_error',
      code: 'unsupported_encoding',
      message: 'The body encoding is not supported: send UTF-8.',
      param: null,
    });
  return {
    status: 500,
    body: envelope('server_error', 'Internal error. It has been logged.', null, null),
    headers: {},
    unexpected: true,
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(notFoundError(`No route for ${req.method} ${req.path}.`, 'unknown_route'));
};

export function errorHandler(log: { error(obj: object, msg: string): void }): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const out = toErrorResponse(err);
    if (out.unexpected) (res.locals.log ?? log).error({ err }, 'unhandled error');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.set(out.headers).status(out.status).json(out.body);
  };
}
