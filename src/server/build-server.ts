import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { assertTokenHash, authHook } from './auth.js';
import { handleError, handleNotFound } from './errors.js';
import { finishDocument } from './openapi-doc.js';
import type { ApiApp, RouteContext, ServerOptions } from './options.js';
import { artifactRoutes } from './routes/artifacts.js';
import { buildRoutes } from './routes/builds.js';
import { eventRoutes } from './routes/events-sse.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { logRoutes } from './routes/logs.js';
import { openapiRoutes } from './routes/openapi.js';
import { sourceRoutes } from './routes/sources.js';
import { whyTraceRoutes } from './routes/why-trace.js';
import { QuietRequestLog } from './quiet-request-log.js';
import { SseHub } from './sse.js';

export type { ApiApp, RouteModule, ServerOptions } from './options.js';

const DEFAULT_BODY_LIMIT = 1024 * 1024;
const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * The HTTP API (`docs/api.md`), ready but not listening: the caller runs `app.listen()` and
 * `app.close()`. Closing ends open event streams at once and turns `/readyz` to 503; it does
 * not stop the engine (the caller owns it).
 */
export async function buildServer(opts: ServerOptions): Promise<ApiApp> {
  assertTokenHash(opts.tokenSha256);
  const loggerInstance: FastifyBaseLogger = opts.logger;
  const app = Fastify({
    loggerInstance,
    logController: new QuietRequestLog(),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // `/api/trace/:source/:version` carries whole versions (64-hex digests, long version strings).
    routerOptions: { maxParamLength: 500 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  acceptEmptyJsonBodies(app);

  let closing = false;
  const sse = new SseHub({ heartbeatMs: opts.sseHeartbeatMs ?? DEFAULT_HEARTBEAT_MS });
  app.addHook('preClose', (done) => {
    closing = true;
    sse.closeAll();
    done();
  });
  app.addHook('onRequest', authHook(opts.tokenSha256, opts.readAuth));

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'nightless',
        version: '1',
        description:
          'Event-driven build system: build on each change, never the same inputs twice.',
      },
      servers: [{ url: opts.publicUrl.replace(/\/+$/, '') || '/' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The API token.' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: finishDocument,
  });

  const ctx: RouteContext = {
    opts,
    sse,
    ready: () => !closing && (opts.ready?.() ?? true),
    now: opts.now ?? Date.now,
  };
  for (const routes of [
    healthRoutes,
    openapiRoutes,
    sourceRoutes,
    jobRoutes,
    buildRoutes,
    logRoutes,
    artifactRoutes,
    eventRoutes,
    whyTraceRoutes,
  ]) {
    await app.register((scope, _pluginOpts, done) => {
      routes(scope, ctx);
      done();
    });
  }
  for (const extra of opts.extraRoutes ?? []) {
    await app.register(async (scope) => extra(scope, opts));
  }
  await app.ready();
  return app;
}

/**
 * `POST` with `Content-Type: application/json` and no body is common from scripts
 * (`curl -X POST -H 'content-type: application/json'`); treat it as "no body" instead of a 400.
 * Everything else goes to fastify's own parser (with its prototype-poisoning protection).
 */
function acceptEmptyJsonBodies(app: ApiApp): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') {
      done(null, undefined);
      return;
    }
    void parse(request, typeof body === 'string' ? body : body.toString('utf8'), done);
  });
}
