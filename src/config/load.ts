import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Pipeline } from '../core/pipeline.js';
import { DEFAULT_MAX_BYTES } from './defaults.js';
import type { Env } from './env-refs.js';
import { ConfigError } from './errors.js';
import { defaultPipelineName, parsePipeline } from './parse.js';
import { formatBytes } from './sizes.js';

export interface LoadOptions {
  /** Values for `${env:NAME}`; default `process.env`. */
  readonly env?: Env;
  /** Name used in messages; default `path` as given (keep it relative, as the user typed it). */
  readonly displayName?: string;
  /** Refuse larger files without reading them whole; default 1 MiB. */
  readonly maxBytes?: number;
}

/**
 * Reads, parses and resolves a pipeline file. Every problem — unreadable file, oversize file,
 * YAML or schema errors — is thrown as a `ConfigError`. The default pipeline name is the
 * basename of the file's directory (resolved against the working directory).
 */
export async function loadPipelineFile(path: string, opts: LoadOptions = {}): Promise<Pipeline> {
  const file = opts.displayName ?? path;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const fail = (message: string): ConfigError =>
    new ConfigError([{ file, line: 0, column: 0, path: '', message }]);

  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > maxBytes)
        throw fail(
          `file is too large (${formatBytes(size)}; the limit is ${formatBytes(maxBytes)})`,
        );
      // Read at most one byte past the cap: a file growing while we read cannot blow memory up.
      const buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > maxBytes)
        throw fail(`file is too large (more than ${formatBytes(maxBytes)})`);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a directory, not a file'
          : `cannot read the file (${code ?? (e as Error).message})`,
    );
  }

  return parsePipeline(text, file, {
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    maxBytes,
    defaultName: defaultPipelineName(dirname(resolve(path))),
    baseDir: dirname(resolve(path)),
  });
}
