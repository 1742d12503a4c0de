/**
 * The OpenAPI 3.1 document, generated from the route table: paths, parameters, bodies and
 * responses come from the same zod schemas that parse requests and shape answers.
 */
import { z } from 'zod';
import { errorSchema } from '../api/schemas.js';
import { type Route, routeKey } from './routes.js';

type JsonSchema = Record<string, unknown>;

const schemaOf = (s: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** The object schema's fields as OpenAPI parameters (`in: path` or `in: query`). */
function parametersOf(s: z.ZodType | undefined, where: 'path' | 'query') {
  if (!s) return [];
  const json = schemaOf(s, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema,
  }));
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: schemaOf(errorSchema, 'output') } },
});

/** Every answer a route may give besides 200, from the checks it goes through. */
function errorResponses(r: Route, open: boolean) {
  return {
    400: errorResponse('Invalid input; the reason names the field.'),
    404: errorResponse('No such machine, alarm or path.'),
    421: errorResponse(
      'The Host header does not name this server (a request by another name: DNS rebinding).',
    ),
    ...(open
      ? {}
      : {
          401: errorResponse('No API token was sent.'),
          403: errorResponse('The API token is wrong, or a page of another site (Origin) sent the request.'),
        }),
    ...(r.body
      ? {
          408: errorResponse('The body did not arrive within 10 s; the connection is closed.'),
          413: errorResponse('The body is over 64 KiB; it is not read.'),
          415: errorResponse('The body is not application/json.'),
        }
      : {}),
    ...(r.response === 'stream'
      ? {
          503: {
            ...errorResponse('The most event streams this server serves are open; try again later.'),
            headers: {
              'retry-after': {
                description: 'Seconds to wait before trying again.',
                schema: { type: 'integer' },
              },
            },
          },
        }
      : open
        ? {}
        : { 503: errorResponse('The owner (worker, analytics or Temporal) did not answer.') }),
  };
}

/** `publicRoutes`: routes that need no token (by `routeKey`); the document's default is the token. */
export function openApiDocument(
  routes: Route[],
  version: string,
  publicRoutes: ReadonlySet<string>,
): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const open = publicRoutes.has(routeKey(r));
    const op: Record<string, unknown> = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(\w)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      parameters: [...parametersOf(r.params, 'path'), ...parametersOf(r.query, 'query')],
      responses: {
        200:
          r.response === 'stream'
            ? {
                description: 'An event stream',
                content: { 'text/event-stream': { schema: { type: 'string' } } },
              }
            : {
                description: 'OK',
                content: { 'application/json': { schema: schemaOf(r.response, 'output') } },
              },
        ...errorResponses(r, open),
      },
      // Public operations opt out of the document-wide token requirement.
      ...(open ? { security: [] } : {}),
    };
    if (r.body)
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemaOf(r.body, 'input') } },
      };
    paths[r.path] = { ...paths[r.path], [r.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Factory floor API',
      version,
      description:
        'The live fleet, alarms, tickets, KPIs, shard map and pipeline counters. Every operation needs the API token from `<data dir>/credentials.json` (`api.token`) unless it says `security: []`; a state-changing request from a page of another site is refused even with it, and so is any request whose Host header does not name this server.',
    },
    servers: [{ url: '/' }],
    components: { securitySchemes: { apiToken: { type: 'http', scheme: 'bearer' } } },
    security: [{ apiToken: [] }],
    paths,
  };
}
