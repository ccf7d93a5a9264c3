import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import type { AgentRefusal, AgentService, BlobStore } from '../agent-service.js';
import type { ApiApp, ServerOptions } from '../options.js';
import {
  AgentHello,
  AgentName,
  AgentsResponse,
  ClaimRequest,
  ClaimResponse,
  FinishRequest,
  HeartbeatResponse,
} from '../schemas/agents.js';
import { bearerSecurity, BuildIdParams } from '../schemas/common.js';
import { commonErrors, ErrorBody } from '../schemas/error.js';

export interface AgentRouteDeps {
  readonly service: AgentService;
  readonly blobs: BlobStore;
  /** Where uploads are staged before they enter the blob store (same file system). */
  readonly uploadDir: string;
  /** Largest blob an agent may upload; default 4 GiB. */
  readonly maxBlobBytes?: number;
}

const DIGEST = z.string().regex(/^[0-9a-f]{64}$/, { message: 'a lowercase hex sha256' });
const errors = { ...commonErrors, 403: ErrorBody, 409: ErrorBody } as const;
const LOG_CHUNK_LIMIT = 8 * 1024 * 1024;

/**
 * The routes agents call with an `agent` token (`docs/api.md`, "Agents"): long-poll claim,
 * heartbeat, log chunks by offset, blobs by digest, the result. Plus `GET /api/agents` (read).
 */
export function agentRoutes(deps: AgentRouteDeps) {
  return function routes(app: ApiApp, _opts: ServerOptions): Promise<void> {
    const { service, blobs } = deps;
    // Log chunks and blobs are raw bytes; the handlers read the stream themselves.
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) =>
      done(null, payload),
    );

    app.post(
      '/api/agent/claim',
      {
        schema: {
          tags: ['agents'],
          summary: 'Wait up to `waitMs` for a queued build this agent may run, and lease it',
          security: bearerSecurity,
          body: ClaimRequest,
          response: { 200: ClaimResponse, ...errors },
        },
      },
      async (request, reply) => {
        const abort = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableEnded) abort.abort();
        });
        const { waitMs, ...hello } = request.body;
        const build = await service.claim(hello, waitMs, abort.signal);
        return { build, leaseMs: service.leaseMs };
      },
    );

    app.post(
      '/api/agent/heartbeat',
      {
        schema: {
          tags: ['agents'],
          summary: "Renew the leases of the agent's running builds",
          security: bearerSecurity,
          body: AgentHello,
          response: { 200: HeartbeatResponse, ...errors },
        },
      },
      async (request) => ({ ...(await service.heartbeat(request.body)), leaseMs: service.leaseMs }),
    );

    app.put(
      '/api/agent/builds/:id/log',
      {
        bodyLimit: LOG_CHUNK_LIMIT,
        schema: {
          tags: ['agents'],
          summary: "Append a chunk of a build's log, starting at `offset` (idempotent by offset)",
          security: bearerSecurity,
          params: BuildIdParams,
          querystring: z.object({ agent: AgentName, offset: z.coerce.number().int().min(0) }),
          response: { 200: z.object({ size: z.number().int() }), ...errors },
        },
      },
      async (request) => {
        const bytes = await readAll(request.body as Readable, LOG_CHUNK_LIMIT);
        const { agent, offset } = request.query;
        const done = await service.appendLog(agent, request.params.id, offset, bytes);
        if ('refused' in done) throw refusal(request.params.id, done);
        return { size: done.size };
      },
    );

    app.post(
      '/api/agent/builds/:id/finish',
      {
        bodyLimit: LOG_CHUNK_LIMIT,
        schema: {
          tags: ['agents'],
          summary: "Record a leased build's result (a retry after a lost answer is acknowledged)",
          security: bearerSecurity,
          params: BuildIdParams,
          body: FinishRequest,
          response: { 200: z.object({ state: z.string() }), ...errors },
        },
      },
      async (request) => {
        const { agent, result, logBytes } = request.body;
        const done = await service.finish(agent, request.params.id, result, logBytes);
        if ('refused' in done) throw refusal(request.params.id, done);
        return { state: done.build.state };
      },
    );

    app.get(
      '/api/agent/blobs/:digest',
      {
        schema: {
          tags: ['agents'],
          summary: 'A blob of the content-addressed store (HEAD: does the server have it?)',
          security: bearerSecurity,
          params: z.object({ digest: DIGEST }),
        },
      },
      async (request, reply) => {
        const { digest } = request.params;
        if (!(await blobs.has(digest))) throw ApiError.notFound(`no blob ${digest}`);
        return reply.type('application/octet-stream').send(blobs.openRead(digest));
      },
    );

    app.put(
      '/api/agent/blobs/:digest',
      {
        bodyLimit: deps.maxBlobBytes ?? 4 * 1024 * 1024 * 1024,
        schema: {
          tags: ['agents'],
          summary: 'Upload a blob; refused unless its sha256 is the digest in the path',
          security: bearerSecurity,
          params: z.object({ digest: DIGEST }),
          response: { 200: z.object({ digest: z.string(), size: z.number().int() }), ...errors },
        },
      },
      async (request) => {
        const { digest } = request.params;
        await mkdir(deps.uploadDir, { recursive: true });
        const tmp = join(deps.uploadDir, `${digest}.${randomBytes(6).toString('hex')}.part`);
        try {
          const hash = createHash('sha256');
          await pipeline(
            request.body as Readable,
            async function* (source: AsyncIterable<Buffer>) {
              for await (const chunk of source) {
                hash.update(chunk);
                yield chunk;
              }
            },
            createWriteStream(tmp),
          );
          const actual = hash.digest('hex');
          if (actual !== digest)
            throw new ApiError(
              'NL_BAD_REQUEST',
              `the upload's sha256 is ${actual}, not ${digest} as the path says`,
            );
          return await blobs.put(tmp);
        } finally {
          await rm(tmp, { force: true });
        }
      },
    );

    app.get(
      '/api/agents',
      {
        schema: {
          tags: ['agents'],
          summary: 'Every agent seen: labels, slots, running builds, last heartbeat, version',
          response: { 200: AgentsResponse, ...commonErrors },
        },
      },
      async () => {
        const { agents, leased } = await service.agents();
        return {
          agents: agents.map((a) => ({
            ...a,
            running: leased
              .filter((b) => b.worker === a.name)
              .map((b) => ({ id: b.id, job: b.job })),
          })),
        };
      },
    );
    return Promise.resolve();
  };
}

function refusal(id: number, r: AgentRefusal): ApiError {
  if (r.refused === 'gap')
    return new ApiError(
      'NL_CONFLICT',
      `the server's log of build #${id} has ${r.size} bytes; send from offset ${r.size}`,
      { expectedOffset: r.size },
    );
  return new ApiError(
    'NL_CONFLICT',
    `build #${id} is not leased to this agent any more (it is ${r.state}): kill its step and discard the result`,
    { discard: true },
  );
}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError('NL_BAD_REQUEST', `a log chunk is at most ${limit} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}
