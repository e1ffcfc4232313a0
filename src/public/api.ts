/**
 * `threadline/api`: the HTTP API (an Express app) in your own process.
 *
 * Context: Node, an API process. It talks to Temporal as a client only (no worker, no native
 * worker module) and to PostgreSQL; run as many as you like behind a load balancer.
 */
export { createApp, type AppDeps } from '../api/app.js';
export { appOptions, listen, runApi } from '../api/server.js';
export { loadConfig, type Config } from '../config.js';
export { createLogger, type Logger } from '../logger.js';
export { migrate } from '../store/migrate.js';
export { createPool, type Pool } from '../store/pool.js';
