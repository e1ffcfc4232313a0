import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from '../logger.js';
import { errorHandler, notFound } from './errors.js';
import { healthRouter } from './routes/health.js';
import { messagesRouter } from './routes/messages.js';

export interface AppDeps {
  client: Client;
  taskQueue: string;
  agent: string;
  replyWaitMs: number;
  log: Logger;
}

/** The HTTP API. Stateless: run as many instances as needed behind a load balancer. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '256kb' }));
  app.use(healthRouter());
  app.use(messagesRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
