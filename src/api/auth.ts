import type { Request, RequestHandler, Response } from 'express';
import type { Pool } from '../store/pool.js';
import { findApiKey, secretsEqual } from './apiKeys.js';
import { badRequest, forbidden, unauthorized } from './errors.js';
import { tenantName } from './schemas.js';

/**
 * Who is calling. A tenant's key acts for its tenant only; the admin key (ADMIN_API_KEY, for
 * operators) manages keys and acts for the tenant named in `X-Tenant`. Tenant isolation follows
 * from this one function: every conversation route builds the workflow id and every query from
 * `tenantOf`, never from the request alone.
 */
export type Principal = { kind: 'key'; keyId: string; tenant: string } | { kind: 'admin' };

export type Access = 'key' | 'admin';

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

export function authenticate(
  deps: { pool: Pool; adminApiKey: string | undefined },
  access: Access,
): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (!token)
      throw unauthorized(
        'Missing API key. Send it as `Authorization: Bearer <key>`.',
        req.headers.authorization ? 'invalid_authorization_header' : 'missing_api_key',
      );
    let principal: Principal | null = null;
    if (deps.adminApiKey && secretsEqual(token, deps.adminApiKey)) principal = { kind: 'admin' };
    else {
      const key = await findApiKey(deps.pool, token);
      if (key) principal = { kind: 'key', keyId: key.id, tenant: key.tenant };
    }
    if (!principal) throw unauthorized('Invalid or revoked API key.');
    if (access === 'admin' && principal.kind !== 'admin')
      throw forbidden('This route needs the admin key.', 'admin_only');
    res.locals.principal = principal;
    if (principal.kind === 'key') res.locals.log = res.locals.log?.child({ tenant: principal.tenant });
    next();
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/**
 * The tenant a request acts for. A tenant key may repeat its own tenant in X-Tenant but never name
 * another (403); the admin key must name one.
 */
export function tenantOf(req: Request, res: Response): string {
  const principal = principalOf(res);
  const header = req.headers['x-tenant'];
  const named = typeof header === 'string' && header !== '' ? header : undefined;
  if (principal.kind === 'key') {
    if (named !== undefined && named !== principal.tenant)
      throw forbidden('This API key belongs to another tenant.', 'tenant_mismatch');
    return principal.tenant;
  }
  if (named === undefined)
    throw badRequest(
      'The admin key acts for a tenant: name it in the X-Tenant header.',
      'missing_tenant',
      'X-Tenant',
    );
  const parsed = tenantName.safeParse(named);
  if (!parsed.success)
    throw badRequest(`X-Tenant ${parsed.error.issues[0]!.message}`, 'invalid_value', 'X-Tenant');
  res.locals.log = res.locals.log?.child({ tenant: parsed.data });
  return parsed.data;
}
