import { basename } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ArtifactFile } from '../../executor/port.js';
import { ApiError } from '../errors.js';
import type { ApiApp, ArtifactReader, RouteContext } from '../options.js';
import { ArtifactFileSchema } from '../schemas/build.js';
import { positiveInt } from '../schemas/common.js';
import { ALSO_BINARY } from '../openapi-doc.js';
import { notFoundErrors } from '../schemas/error.js';

/** `GET /api/builds/:id/artifacts/:name`: an output's file, or the list of a multi-file output's files. */
export function artifactRoutes(app: ApiApp, ctx: RouteContext): void {
  const { engine, artifacts } = ctx.opts;

  app.get(
    '/api/builds/:id/artifacts/:name',
    {
      schema: {
        tags: ['builds'],
        summary: 'Download a build output',
        description:
          'A single-file output (or `?path=` naming one file of a multi-file output) is sent as ' +
          '`application/octet-stream` with `Content-Disposition: attachment` and `X-Nightless-Digest` ' +
          '(its sha256). A multi-file output without `path` answers the JSON list of its files.',
        params: z.object({ id: positiveInt(), name: z.string().min(1) }),
        querystring: z.strictObject({
          path: z
            .string()
            .min(1)
            .optional()
            .meta({ description: 'A file of the output, relative to its root.' }),
        }),
        response: {
          200: z.object({ files: z.array(ArtifactFileSchema).readonly() }).meta({
            description:
              'The file itself; for a multi-file output without `path`, the JSON list of its files.',
            ...ALSO_BINARY,
          }),
          ...notFoundErrors,
        },
      },
    },
    async (request, reply) => {
      const { id, name } = request.params;
      const build = await engine.store.read.getBuild(id);
      if (!build) throw ApiError.notFound(`no build #${id}`);
      const output = build.outputs.find((o) => o.name === name);
      if (!output) throw ApiError.notFound(`build #${id} has no output "${name}"`);
      const { path } = request.query;
      const file =
        path === undefined ? singleFile(output.files) : output.files.find((f) => f.path === path);
      if (path !== undefined && !file)
        throw ApiError.notFound(`output "${name}" of build #${id} has no file "${path}"`);
      if (!file) return { files: output.files };
      // The zod reply type only knows the JSON body; a stream bypasses serialization altogether.
      const raw: FastifyReply = reply;
      return raw
        .header('content-type', 'application/octet-stream')
        .header('content-length', file.size)
        .header('content-disposition', attachment(basename(file.path)))
        .header('x-nightless-digest', file.digest)
        .send(openBlob(artifacts, file));
    },
  );
}

function singleFile(files: readonly ArtifactFile[]): ArtifactFile | undefined {
  return files.length === 1 ? files[0] : undefined;
}

/**
 * The blob as a stream whose failure to open becomes a clean error response: fastify only sends
 * headers once data flows, so a missing blob still gets a JSON error instead of a cut download.
 */
function openBlob(artifacts: ArtifactReader, file: ArtifactFile): Readable {
  const out = new PassThrough();
  let source: NodeJS.ReadableStream;
  try {
    source = artifacts.openRead(file.digest);
  } catch {
    queueMicrotask(() => out.destroy(missing(file)));
    return out;
  }
  source.on('error', (err: NodeJS.ErrnoException) => {
    out.destroy(err.code === 'ENOENT' ? missing(file) : err);
  });
  source.pipe(out);
  return out;
}

function missing(file: ArtifactFile): ApiError {
  return ApiError.notFound(`the content of "${file.path}" (${file.digest}) is no longer stored`);
}

/** RFC 6266: an ASCII fallback name plus the exact name in RFC 5987 encoding. */
function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
