import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';

/** Every error leaves the API in the OpenAI envelope: {"error":{"type","code","message","param"}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export function envelope(type: string, message: string, code: string | null, param: string | null) {
  return { error: { type, code, message, param } };
}

export const notFound: RequestHandler = (req, res) => {
  res
    .status(404)
    .json(envelope('invalid_request_error', `No route for ${req.method} ${req.path}.`, 'not_found', null));
};

export function errorHandler(log: { error(obj: object, msg: string): void }): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (err instanceof z.ZodError) {
      const issue = err.issues[0]!;
      const param = issue.path.join('.') || null;
      res
        .status(400)
        .json(
          envelope('invalid_request_error', `${param ?? 'body'}: ${issue.message}`, 'invalid_value', param),
        );
      return;
    }
    if (err instanceof ApiError) {
      res.status(err.status).json(envelope(err.type, err.message, err.code, err.param));
      return;
    }
    // body-parser errors carry a status and a type; never echo their stack.
    const e = err as { status?: number; type?: string; message?: string };
    if (e.type === 'entity.parse.failed') {
      res
        .status(400)
        .json(envelope('invalid_request_error', 'The body is not valid JSON.', 'invalid_json', null));
      return;
    }
    if (e.type === 'entity.too.large') {
      res
        .status(413)
        .json(envelope('invalid_request_error', 'The body is too large.', 'body_too_large', null));
      return;
    }
    log.error({ err }, 'unhandled error');
    res.status(500).json(envelope('server_error', 'Internal error. It has been logged.', null, null));
  };
}
