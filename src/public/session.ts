/**
 * `threadline/session`: PostgresSession, the Postgres store as an @openai/agents Session, for code
 * that runs its own @openai/agents `run()` loop on Threadline's transcript tables.
 *
 * Context: Node, any process with a PostgreSQL pool. Not for workflow code.
 */
export * from '../store/session/index.js';
export { migrate } from '../store/migrate.js';
export { createPool, type Pool } from '../store/pool.js';
