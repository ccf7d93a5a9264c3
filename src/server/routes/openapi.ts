import { z } from 'zod';
import type { ApiApp } from '../options.js';

/** The OpenAPI 3.1 document, generated from the routes' zod schemas by `@fastify/swagger`. */
export function openapiRoutes(app: ApiApp): void {
  app.get(
    '/api/openapi.json',
    {
      // Describes the API, holds no data: open even with `readAuth`, so tools can fetch it.
      schema: {
        tags: ['meta'],
        summary: 'This OpenAPI document',
        response: { 200: z.record(z.string(), z.unknown()) },
      },
    },
    () => app.swagger() as unknown as Record<string, unknown>,
  );
}
