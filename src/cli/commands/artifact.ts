import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import type { ArtifactListing } from '../../api/types.js';
import { buildIdArg, commandContext, withClientOptions } from '../client-options.js';
import { CliError, ConnectionError, ExitCode, UsageError } from '../errors.js';
import { formatSize } from '../format/build.js';
import { renderTable } from '../format/table.js';
import { shortVersion } from '../format/version.js';

interface ArtifactFlags {
  readonly output?: string;
  readonly path?: string;
  readonly force?: boolean;
}

export function registerArtifact(program: Command): void {
  withClientOptions(
    program
      .command('artifact')
      .description('download an output of a build')
      .argument('<build>', 'build id (42 or #42)', buildIdArg)
      .argument('<name>', 'output name, as under `outputs:` in the pipeline')
      .option('-o, --output <file>', 'where to write it; - for stdout (default: the file name)')
      .option('--path <path>', 'the file to take from an output with several files')
      .option('--force', 'overwrite an existing file'),
  )
    .addHelpText(
      'after',
      `
The download is checked against the digest the server sends, and written to a temporary file
that is renamed into place only when complete: an interrupted download leaves nothing behind.

Examples:
  $ nightless artifact 42 dist
  wrote app-1.4.0.tgz (1.2 MiB, file sha256 9b1e77a0c2)
  $ nightless artifact 42 dist -o - | tar -tz
  $ nightless artifact 42 reports --path junit/results.xml -o results.xml --force`,
    )
    .action(async (id: number, name: string, opts: ArtifactFlags, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const toStdout = opts.output === '-';
      if (
        opts.output !== undefined &&
        !toStdout &&
        existsSync(opts.output) &&
        opts.force !== true
      ) {
        throw new UsageError(`${opts.output} exists; use --force to overwrite it`);
      }
      const { response, close } = await client.open(
        `/api/builds/${id}/artifacts/${encodeURIComponent(name)}`,
        { path: opts.path },
        'application/octet-stream, application/json',
      );
      try {
        if ((response.headers.get('content-type') ?? '').startsWith('application/json')) {
          // A multi-file output without --path: the server lists its files instead.
          const listing = (await response.json()) as ArtifactListing;
          if (json) return out.json(listing);
          const rows = listing.files.map((f) => [
            f.path,
            formatSize(f.size),
            shortVersion(f.digest),
          ]);
          out.note(
            `output "${name}" of build #${id} has ${listing.files.length} file${listing.files.length === 1 ? '' : 's'}; choose one with --path:`,
          );
          out.note(
            renderTable(['PATH', 'SIZE', 'FILE SHA256'], rows, { alignRight: [1] }).join('\n'),
          );
          throw new ExitCode(2);
        }
        const target = toStdout
          ? null
          : (opts.output ?? defaultFileName(response, name, opts.path));
        if (target !== null && existsSync(target) && opts.force !== true) {
          throw new UsageError(`${target} exists; use --force to overwrite it (or -o FILE)`);
        }
        const { bytes, digest } = await save(response, target, client.config.timeoutMs);
        const expected = response.headers.get('x-nightless-digest');
        if (expected !== null && expected.replace(/^sha256:/, '') !== digest) {
          if (target !== null) await rm(target, { force: true });
          throw new CliError(
            `download of ${name} is corrupt: file sha256 ${digest}, server said ${expected}`,
          );
        }
        const what = `${formatSize(bytes)}, file sha256 ${shortVersion(digest)}`;
        if (target === null) out.note(`wrote ${what} to stdout`);
        else out.print(`wrote ${target} (${what})`);
      } finally {
        close();
      }
    });
}

/** The server's file name (content-disposition), else the --path's base name, else the output's. */
function defaultFileName(response: Response, name: string, path: string | undefined): string {
  const disposition = response.headers.get('content-disposition') ?? '';
  const m = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(disposition);
  const raw = m?.[1] !== undefined ? decodeURIComponent(m[1]) : m?.[2];
  // basename(): a server must not be able to make us write outside the current directory.
  const candidate = basename(raw ?? path ?? name);
  return candidate === '' || candidate === '.' || candidate === '..' ? name : candidate;
}

/**
 * Streams the body to `target` (or stdout) while hashing it. A file is written next to its final
 * name and renamed when complete. The connection must keep moving: silence longer than the
 * timeout between chunks aborts the download.
 */
async function save(
  response: Response,
  target: string | null,
  idleTimeoutMs: number,
): Promise<{ bytes: number; digest: string }> {
  if (response.body === null) throw new ConnectionError('the server sent no body');
  const hash = createHash('sha256');
  let bytes = 0;
  let idle: NodeJS.Timeout | undefined;
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(
      () => body.destroy(new ConnectionError(`the download stalled for ${idleTimeoutMs / 1000}s`)),
      idleTimeoutMs,
    );
  };
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      arm();
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const temp =
    target === null ? null : join(dirname(target), `.${basename(target)}.${process.pid}.part`);
  const sink: Writable = temp === null ? process.stdout : createWriteStream(temp);
  try {
    arm();
    await pipeline(body, meter, sink, { end: temp !== null });
    if (temp !== null && target !== null) await rename(temp, target);
  } catch (err) {
    if (temp !== null) await rm(temp, { force: true });
    throw err;
  } finally {
    clearTimeout(idle);
  }
  return { bytes, digest: hash.digest('hex') };
}
