import { z } from 'zod';
import { errorBody } from './schemas.js';
import type { RouteSpec } from './route.js';
import { streamEventData } from './schemas.js';

/**
 * The OpenAPI 3.1 document, built from the route declarations: the same zod schemas validate
 * requests and describe them here. Named schemas (`.meta({id})`) become components.
 */

type Json = Record<string, unknown>;

const ERRORS: Record<string, Record<number, string>> = {
  key: {
    400: 'Invalid request',
    401: 'Missing or invalid API key',
    403: 'Another tenant',
    404: 'Not found',
    413: 'Body too large',
    429: 'Rate limited (Retry-After)',
  },
  admin: {
    400: 'Invalid request',
    401: 'Missing or invalid API key',
    403: 'Not the admin key',
    404: 'Not found',
    429: 'Rate limited (Retry-After)',
  },
  signature: {
    400: 'Invalid request',
    401: 'Missing, invalid or expired signature',
    404: 'Unknown channel',
    413: 'Body too large',
  },
  none: {},
};

export function buildOpenApi(specs: RouteSpec[], info: { title: string; version: string }): Json {
  const components: Record<string, Json> = {};
  const schema = (s: z.ZodType, io: 'input' | 'output'): Json => {
    const json = z.toJSONSchema(s, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
      reused: 'inline',
    }) as Json;
    // Hoist named schemas to components and refer to them.
    const defs = (json.$defs ?? {}) as Record<string, Json>;
    delete json.$schema;
    delete json.$defs;
    for (const [name, def] of Object.entries(defs)) components[name] = rewriteRefs(def);
    const id = (z.globalRegistry.get(s) as { id?: string } | undefined)?.id;
    if (id) {
      // zod puts a named root under $defs and answers with a $ref to it: already hoisted above.
      delete json.id;
      if (json.$ref !== `#/$defs/${id}`) components[id] = rewriteRefs(json);
      return { $ref: `#/components/schemas/${id}` };
    }
    return rewriteRefs(json);
  };

  const paths: Record<string, Record<string, Json>> = {};
  for (const spec of specs) {
    const parameters: Json[] = [];
    const addParams = (s: z.ZodType | undefined, where: 'path' | 'query') => {
      if (!s) return;
      const obj = schema(s, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, prop] of Object.entries(obj.properties ?? {})) {
        const { description, ...rest } = prop;
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (obj.required ?? []).includes(name),
          ...(description ? { description } : {}),
          schema: rest,
        });
      }
    };
    addParams(spec.params, 'path');
    addParams(spec.query, 'query');
    for (const [name, description] of Object.entries(spec.headers ?? {}))
      parameters.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });

    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      const type = r.contentType ?? 'application/json';
      responses[status] = {
        description: r.description,
        ...(r.links ? { links: r.links } : {}),
        ...(r.schema || type !== 'application/json'
          ? {
              content: {
                [type]: r.schema ? { schema: schema(r.schema, 'output') } : { schema: { type: 'string' } },
              },
            }
          : {}),
      };
    }
    for (const [status, description] of Object.entries(ERRORS[spec.access] ?? {}))
      responses[status] ??= {
        description,
        content: { 'application/json': { schema: schema(errorBody, 'output') } },
      };

    paths[spec.path] ??= {};
    paths[spec.path]![spec.method] = {
      operationId: spec.operationId,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: [spec.tag],
      ...(spec.access === 'key' || spec.access === 'admin'
        ? { security: [{ apiKey: [] }] }
        : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(spec.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schema(spec.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  for (const spec of specs)
    for (const r of Object.values(spec.responses))
      for (const [name, link] of Object.entries(r.links ?? {}))
        if (!specs.some((s) => s.operationId === link.operationId))
          throw new Error(`${spec.operationId}: link ${name} names no operation ${link.operationId}`);
  // The frames of GET .../events: a text/event-stream body cannot refer to them, so they are hoisted.
  schema(streamEventData, 'output');
  return {
    openapi: '3.1.0',
    info: {
      ...info,
      description:
        'Threadline: conversations as durable Temporal workflows. Authenticate with `Authorization: Bearer <API key>`; ' +
        'errors use the envelope `{"error":{"type","code","message","param"}}`.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A tenant API key, or the admin key' },
      },
    },
  };
}

/** zod writes `#/$defs/X`; in OpenAPI the definitions live under components. */
function rewriteRefs(node: Json): Json {
  return JSON.parse(
    JSON.stringify(node).replace(
      /"#\/\$defs\/([^"]+)"/g,
      (_m, name: string) => `"#/components/schemas/${name}"`,
    ),
  ) as Json;
}
