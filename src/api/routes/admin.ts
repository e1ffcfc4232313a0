import { z } from 'zod';
import { findErrorRecord } from '../../activities/errorRecords.js';
import type { Pool } from '../../store/pool.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../apiKeys.js';
import { notFoundError } from '../errors.js';
import type { Routes } from '../route.js';
import { cleanText, tenantName } from '../schemas.js';

const apiKey = z
  .object({
    id: z.string(),
    tenant: z.string(),
    name: z.string(),
    prefix: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'ApiKey' });

const errorRecord = z
  .object({
    object: z.literal('error_record'),
    id: z.string(),
    tenant: z.string().nullable(),
    conversationId: z.string().nullable(),
    activity: z.string(),
    type: z.string(),
    reason: z.string().describe('What the tenant sees'),
    message: z.string().describe('The raw upstream text'),
    details: z.unknown(),
    attempts: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'ErrorRecord' });

/** Operators' routes, for the admin key only: API keys per tenant, raw error records. */
export function adminRoutes(routes: Routes, deps: { pool: Pool }): void {
  routes.add(
    {
      method: 'post',
      path: '/v1/admin/api-keys',
      operationId: 'createApiKey',
      tag: 'Admin',
      summary: 'Create an API key for a tenant',
      description: 'The key is in this response only; the server keeps its SHA-256.',
      access: 'admin',
      body: z.object({ tenant: tenantName, name: cleanText(1, 128) }).meta({ id: 'ApiKeyInput' }),
      responses: {
        201: {
          description: 'The new key',
          schema: apiKey.extend({ key: z.string() }).meta({ id: 'NewApiKey' }),
          links: {
            listApiKeys: { operationId: 'listApiKeys', parameters: { tenant: '$response.body#/tenant' } },
            revokeApiKey: { operationId: 'revokeApiKey', parameters: { keyId: '$response.body#/id' } },
          },
        },
      },
    },
    async ({ body }, _req, res) => {
      const { key, record } = await createApiKey(deps.pool, body);
      res.locals.log?.info({ keyId: record.id, tenant: record.tenant }, 'api key created');
      res.status(201).json({ ...record, key });
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/admin/api-keys',
      operationId: 'listApiKeys',
      tag: 'Admin',
      summary: 'List API keys (without secrets)',
      access: 'admin',
      query: z.object({ tenant: tenantName.optional() }),
      responses: {
        200: {
          description: 'Keys',
          schema: z.object({ object: z.literal('list'), data: z.array(apiKey) }),
        },
      },
    },
    async ({ query }, _req, res) => {
      res.json({ object: 'list', data: await listApiKeys(deps.pool, query.tenant) });
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/v1/admin/api-keys/{keyId}',
      operationId: 'revokeApiKey',
      tag: 'Admin',
      summary: 'Revoke an API key',
      access: 'admin',
      params: z.object({ keyId: z.string().regex(/^key_[0-9a-f]{16}$/, { message: 'is not a key id' }) }),
      responses: { 200: { description: 'The revoked key', schema: apiKey } },
    },
    async ({ params }, _req, res) => {
      const record = await revokeApiKey(deps.pool, params.keyId);
      if (!record) throw notFoundError(`No API key ${params.keyId}.`, 'api_key_not_found');
      res.locals.log?.info({ keyId: record.id, tenant: record.tenant }, 'api key revoked');
      res.json(record);
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/admin/errors/{errorId}',
      operationId: 'getErrorRecord',
      tag: 'Admin',
      summary: 'The raw upstream text behind an error id',
      description:
        'Tenants see a sanitized reason and an error id (`lastError`: "OpenAI 429: OpenAI rate limit (error err_...)"). ' +
        'The upstream message, which can carry quota details or key fragments, is kept here for operators only.',
      access: 'admin',
      params: z.object({
        errorId: z.string().regex(/^err_[0-9a-f]{24}$/, { message: 'is not an error id' }),
      }),
      responses: { 200: { description: 'The error record', schema: errorRecord } },
    },
    async ({ params }, _req, res) => {
      const record = await findErrorRecord(deps.pool, params.errorId);
      if (!record) throw notFoundError(`No error ${params.errorId}.`, 'error_not_found');
      res.json(record);
    },
  );
}
