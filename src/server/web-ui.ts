import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiApp } from './options.js';
import { ApiError } from '../api/errors.js';

/**
 * `src/server/` and `dist/server/` are both two levels under the package root, so the same
 * relative path finds `web/dist` in a checkout (tsx) and in the installed package.
 */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** First path segments of the dashboard's pages: a reload of a deep link gets `index.html`. */
const PAGES = new Set([
  '',
  'jobs',
  'builds',
  'trace',
  'sources',
  'deliveries',
  'decisions',
  'slos',
]);

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The dashboard (`web/`, built by Vite into `web/dist`): files under `/assets/`, `index.html`
 * for every page path. Only page prefixes fall back to `index.html`, so an unknown `/api/...`
 * or `/hooks/...` path still answers the API's 404 JSON instead of an HTML page. The files hold
 * no data, so the routes are public; the data comes from the API with the reader's token.
 */
export function webUiRoutes(app: ApiApp, root: string = DEFAULT_WEB_ROOT): void {
  const base = resolve(root);
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = safeDecode(request.url.split('?')[0] ?? '/');
    if (path.startsWith('/assets/') || /^\/[\w.-]+\.(svg|png|ico)$/.test(path)) {
      const file = resolve(base, `.${path}`);
      if (file.startsWith(base + sep) && (await isFile(file))) {
        // Vite puts a content hash in every asset name: a file never changes under its name.
        return sendFile(reply, file, 'public, max-age=31536000, immutable');
      }
    } else if (PAGES.has(path.split('/')[1] ?? '')) {
      const index = join(base, 'index.html');
      if (await isFile(index)) return sendFile(reply, index, 'no-cache');
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run `npm run build` (it builds web/ into web/dist).\n');
    }
    throw ApiError.notFound(`no route ${request.method} ${path.slice(0, 200)}`);
  };
  app.get('/', { schema: { hide: true } }, handler);
  app.get('/*', { schema: { hide: true } }, handler);
}

/** A malformed escape (`/%E0`) is a path that matches no file, not a 500. */
function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return '/\0';
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function sendFile(reply: FastifyReply, file: string, cache: string): FastifyReply {
  return reply
    .header('cache-control', cache)
    .header('x-content-type-options', 'nosniff')
    .type(TYPES[extname(file)] ?? 'application/octet-stream')
    .send(createReadStream(file));
}
