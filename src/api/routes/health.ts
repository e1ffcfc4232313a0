import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Pool } from '../../store/pool.js';
import type { Routes } from '../route.js';

export interface HealthDeps {
  client: Client;
  pool: Pool;
  closing: AbortSignal;
}

const readiness = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    checks: z.object({ postgres: z.string(), temporal: z.string(), server: z.string() }),
  })
  .meta({ id: 'Readiness' });

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref()),
  ]);

export function healthRoutes(routes: Routes, deps: HealthDeps): void {
  routes.add(
    {
      method: 'get',
      path: '/healthz',
      operationId: 'health',
      tag: 'Operations',
      summary: 'The process is alive',
      access: 'none',
      responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
    },
    (_input, _req, res) => {
      res.json({ status: 'ok' });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/readyz',
      operationId: 'ready',
      tag: 'Operations',
      summary: 'Postgres and Temporal are reachable (503 otherwise, and while shutting down)',
      access: 'none',
      responses: {
        200: { description: 'Ready', schema: readiness },
        503: { description: 'Not ready: the failing checks say why', schema: readiness },
      },
    },
    async (_input, _req, res) => {
      const check = (p: Promise<unknown>) =>
        withTimeout(p, 2_000).then(
          () => 'ok',
          // Only the kind of failure: connection strings and hosts stay out of a public endpoint.
          (err: unknown) =>
            `unreachable${err instanceof Error && err.message === 'timed out' ? ' (timed out)' : ''}`,
        );
      const [postgres, temporal] = await Promise.all([
        check(deps.pool.query('SELECT 1')),
        check(deps.client.workflowService.getSystemInfo({})),
      ]);
      const server = deps.closing.aborted ? 'shutting down' : 'ok';
      const ok = postgres === 'ok' && temporal === 'ok' && server === 'ok';
      res
        .status(ok ? 200 : 503)
        .json({ status: ok ? 'ok' : 'unavailable', checks: { postgres, temporal, server } });
    },
  );
}
