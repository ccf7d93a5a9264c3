import type { SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROUTE_ACCESS, routeKey } from './auth/route-access.js';

/**
 * Finishing touches on the generated OpenAPI document, for what zod schemas can't say:
 * non-JSON responses, optional request bodies, and unused `*Input` components (the zod
 * transform emits an input variant of every named schema whether a route uses it or not).
 */

type Json = Record<string, unknown>;

/** A response that is an event stream, not JSON; the route hijacks the reply so nothing serializes it. */
export function eventStreamResponse(description: string) {
  return z.string().meta({ description, 'x-media': 'text/event-stream' });
}

/** Marks a JSON response that may instead be a file download (`application/octet-stream`). */
export const ALSO_BINARY = {
  'x-also': { 'application/octet-stream': { type: 'string', format: 'binary' } },
} as const;

/** Marks a JSON response that may instead be an event stream (`Accept: text/event-stream`). */
export const ALSO_EVENT_STREAM = { 'x-also': { 'text/event-stream': { type: 'string' } } } as const;

export const finishDocument: SwaggerTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input) as Json;
  for (const [path, pathItem] of Object.entries(asObject(doc.paths))) {
    for (const [method, op] of Object.entries(asObject(pathItem))) {
      const operation = asObject(op);
      declareAccess(operation, method, path);
      fixRequestBody(asObject(operation.requestBody));
      for (const res of Object.values(asObject(operation.responses))) fixMedia(asObject(res));
    }
  }
  pruneUnusedSchemas(doc);
  return doc;
};

/**
 * `x-nightless-access` on every operation, from the one table the server enforces
 * (`auth/route-access.ts`), with `security` to match: none for public and signed routes.
 */
function declareAccess(operation: Json, method: string, openapiPath: string): void {
  const access =
    ROUTE_ACCESS[routeKey(method.toUpperCase(), openapiPath.replace(/\{(\w+)\}/g, ':$1'))];
  if (access === undefined) return;
  operation['x-nightless-access'] = access;
  operation.security = access === 'public' || access === 'signature' ? [] : [{ bearer: [] }];
}

function fixMedia(response: Json): void {
  const content = asObject(response.content);
  const json = asObject(content['application/json']);
  const schema = asObject(json.schema);
  const media = schema['x-media'];
  if (typeof media === 'string') {
    const { 'x-media': _, description, ...rest } = schema;
    if (typeof description === 'string') response.description = description;
    response.content = { [media]: { schema: rest } };
    return;
  }
  const also = schema['x-also'];
  if (typeof also === 'object' && also !== null) {
    delete schema['x-also'];
    if (typeof schema.description === 'string') response.description = schema.description;
    for (const [type, alt] of Object.entries(also as Json)) content[type] = { schema: alt };
  }
}

/** `body: X.nullish()` becomes "optional body X" rather than "required body X or null". */
function fixRequestBody(body: Json): void {
  for (const media of Object.values(asObject(body.content))) {
    const m = asObject(media);
    const anyOf: unknown = asObject(m.schema).anyOf;
    if (!Array.isArray(anyOf)) continue;
    const rest = (anyOf as unknown[]).filter((s) => asObject(s).type !== 'null');
    if (rest.length === anyOf.length) continue;
    body.required = false;
    m.schema = rest.length === 1 ? rest[0] : { anyOf: rest };
  }
}

function pruneUnusedSchemas(doc: Json): void {
  const components = asObject(doc.components);
  const schemas = asObject(components.schemas);
  const used = new Set<string>();
  const pending = [...refsIn({ paths: doc.paths })];
  while (pending.length > 0) {
    const name = pending.pop() ?? '';
    if (used.has(name)) continue;
    used.add(name);
    pending.push(...refsIn(schemas[name]));
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
}

function refsIn(value: unknown): string[] {
  const text = JSON.stringify(value ?? null);
  return [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? '');
}

function asObject(value: unknown): Json {
  return typeof value === 'object' && value !== null ? (value as Json) : {};
}
