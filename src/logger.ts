import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'threadline'): Logger {
  return pino({
    name,
    level,
    // Secrets and message text never reach logs; these paths catch them if someone logs a request.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'apiKey',
        '*.apiKey',
        'text',
        '*.text',
      ],
      censor: '[redacted]',
    },
  });
}
