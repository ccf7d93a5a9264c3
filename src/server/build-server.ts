import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { auditHook } from './auth/audit-hook.js';
import { authHook } from './auth/auth-hook.js';
import { FailureLimiter } from './auth/failure-limiter.js';
import { accessOf, ROUTE_ACCESS } from './auth/route-access.js';
import { handleError, handleNotFound } from './errors.js';
import { buildLinker } from './build-links.js';
import { finishDocument } from './openapi-doc.js';
import type { ApiApp, RouteContext, ServerOptions } from './options.js';
import { artifactRoutes } from './routes/artifacts.js';
import { auditRoutes } from './routes/audit.js';
import { buildRoutes } from './routes/builds.js';
import { eventRoutes } from './routes/events-sse.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { logRoutes } from './routes/logs.js';
import { openapiRoutes } from './routes/openapi.js';
import { sourceRoutes } from './routes/sources.js';
import { tokenRoutes } from './routes/tokens.js';
import { whyTraceRoutes } from './routes/why-trace.js';
import { QuietRequestLog } from './quiet-request-log.js';
import { SseHub } from './sse.js';
import { webUiRoutes } from './web-ui.js';

export type { ApiApp, ServerOptions } from './options.js';

const DEFAULT_BODY_LIMIT = 1024 * 1024;
const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * The HTTP API (`docs/api.md`), ready but not listening: the caller runs `app.listen()` and
 * `app.close()`. Closing ends open event streams at once and turns `/readyz` to 503; it does
 * not stop what runs builds (the caller owns it).
 */
export async function buildServer(opts: ServerOptions): Promise<ApiApp> {
  const now = opts.now ?? Date.now;
  const { publicUrl: base } = opts;
  const publicUrl = typeof base === 'function' ? base : () => base;
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
  // A route nobody declared access for is a startup error, not an open endpoint.
  const table = { ...ROUTE_ACCESS, ...opts.extraAccess };
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) accessOf(table, method, route.url);
  });
  const noTokens = {
    findTokenBySha256: () => Promise.resolve(null),
    touchToken: () => Promise.resolve(),
  };
  app.decorateRequest('principal', null);
  app.addHook(
    'onRequest',
    authHook({
      bootstrapSha256: opts.tokenSha256,
      tokens: opts.access ?? noTokens,
      readsOpen: !opts.readAuth,
      table,
      limiter: new FailureLimiter(opts.authFailureLimit ?? { maxFailures: 10, windowMs: 60_000 }),
      now,
      ...(opts.onAuthFailure ? { onFailure: opts.onAuthFailure } : {}),
    }),
  );
  if (opts.access) {
    app.addHook(
      'onResponse',
      auditHook({
        audit: opts.access,
        table,
        now,
        onError: (err) => opts.logger.error({ err }, 'writing the audit trail failed'),
      }),
    );
  }

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'nightless',
        version: '1',
        description:
          'Event-driven build system: build on each change, never the same inputs twice.',
      },
      servers: [{ url: publicUrl().replace(/\/+$/, '') || '/' }],
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
    now,
    links: buildLinker(publicUrl),
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
  const access = opts.access;
  if (access) {
    await app.register((scope, _pluginOpts, done) => {
      tokenRoutes(scope, ctx, access);
      auditRoutes(scope, access);
      done();
    });
  }
  for (const extra of opts.extraRoutes ?? []) {
    await app.register(async (scope) => extra(scope, opts));
  }
  await app.register((scope, _pluginOpts, done) => {
    webUiRoutes(scope, opts.webRoot);
    done();
  });
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
