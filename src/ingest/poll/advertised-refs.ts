import { runProcess } from '../../spawn/process-helper.js';
import { HEADS_OUTPUT_CHARS, type RemoteHead } from './remote-heads.js';
import { isFullSha } from '../../core/git-sha.js';

/**
 * The path of a repository on this machine that git reaches through upload-pack on this machine:
 * an absolute path, or a `file:///` URL whose path git takes as written (no `%` escapes, which git
 * would decode, and no host, which git would drop). `null` for anything else.
 */
export function localRepoPath(url: string): string | null {
  if (url.startsWith('/')) return url;
  if (url.startsWith('file:///') && !url.includes('%')) return url.slice('file://'.length);
  return null;
}

/**
 * The branch heads upload-pack advertises for a repository on this machine, from one
 * `git upload-pack --advertise-refs` process. `git ls-remote` of such a repository starts three
 * (git, the shell it runs upload-pack with, and upload-pack) to ask the same upload-pack for the
 * same advertisement — its `hideRefs`, its checks, the global git config — and costs ~3× the
 * CPU (bench/RESULTS.md, "Ingest", (3c)).
 *
 * `null` when upload-pack did not answer (no repository there, a bundle file, an answer it
 * cannot parse): the caller asks `git ls-remote`, whose answer or error is the one a user
 * expects to read. A timeout throws: ls-remote would wait on the same hung file system. Not
 * consulted, as ls-remote would: `url.*.insteadOf` rewrites of a `file://` URL, and
 * `protocol.file.allow`.
 */
export async function advertisedHeads(
  path: string,
  timeoutMs: number,
): Promise<RemoteHead[] | null> {
  const res = await runProcess({
    file: 'git',
    args: ['upload-pack', '--advertise-refs', '--', path],
    // Protocol v0's advertisement, whatever the environment asks for.
    env: { ...process.env, GIT_PROTOCOL: undefined },
    timeoutMs,
    maxOutputChars: HEADS_OUTPUT_CHARS,
  });
  if (res.timedOut) {
    throw new Error(`git upload-pack --advertise-refs ${path} timed out after ${timeoutMs} ms`);
  }
  if (res.code !== 0 || res.error !== null) return null;
  return parseAdvertisement(res.stdout);
}

/**
 * The `refs/heads/` of a protocol-v0 ref advertisement (pkt-lines: four hex digits giving the
 * line's length in bytes, then `<sha> <ref>` and, on the first line, NUL and the capabilities;
 * `0000` flushes). `null` when `text` is not such an advertisement, or was cut short.
 */
export function parseAdvertisement(text: string): RemoteHead[] | null {
  const heads: RemoteHead[] = [];
  let at = 0;
  let flushed = false;
  while (at < text.length) {
    const length = text.slice(at, at + 4);
    if (!/^[0-9a-f]{4}$/.test(length)) return null;
    const bytes = Number.parseInt(length, 16);
    if (bytes === 0) {
      flushed = true;
      at += 4;
      continue;
    }
    // Every line upload-pack advertises ends with LF, and a ref name holds no LF: the line's
    // end is found by it and checked against the length in bytes (ref names may be UTF-8).
    const end = text.indexOf('\n', at + 4);
    if (end < 0) return null;
    const line = text.slice(at + 4, end + 1);
    if (bytes < 5 || Buffer.byteLength(line) !== bytes - 4) return null;
    at = end + 1;
    const nul = line.indexOf('\0');
    const refLine = line.slice(0, nul < 0 ? -1 : nul);
    const space = refLine.indexOf(' ');
    const sha = refLine.slice(0, space);
    const ref = refLine.slice(space + 1);
    if (space < 0 || !isFullSha(sha)) return null;
    if (ref.startsWith('refs/heads/') && !ref.endsWith('^{}')) {
      heads.push({ ref: ref.slice('refs/heads/'.length), sha });
    }
  }
  return flushed ? heads : null;
}
