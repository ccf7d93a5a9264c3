import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isFullSha } from '../core/git-sha.js';

/** A pack index v2 starts with `\377tOc` then version 2. */
const IDX_MAGIC = 0xff744f63;
/** Header (8 bytes) + fan-out table (256 × 4 bytes). */
const IDX_NAMES_AT = 8 + 256 * 4;
/** Packs read at most: a mirror with more is left to git (its `gc` keeps them few). */
const MAX_PACKS = 64;
/** Larger indexes (millions of objects) are left to git rather than read whole. */
const MAX_IDX_BYTES = 64 * 1024 * 1024;

/**
 * Whether the object `sha` is shown absent from the bare repository `gitDir` without spawning
 * git: no loose object file, no alternate object store, and not in the object-name table of any
 * pack index (version 2, binary search under the fan-out). `false` means "not shown" — present,
 * or anything unusual (an index of another version, a pack removed while being read, too many
 * packs): ask git then. The loose object is looked for before the packs: git writes a pack
 * before it deletes the loose objects it holds (`repack`), and a new index before it deletes an
 * old one, so an object moving between them is never missed by both looks.
 */
export async function shownAbsent(gitDir: string, sha: string): Promise<boolean> {
  if (!isFullSha(sha)) return false;
  const objects = join(gitDir, 'objects');
  const loose = await stat(join(objects, sha.slice(0, 2), sha.slice(2))).catch(
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : err),
  );
  if (loose !== null) return false;
  const alternates = await stat(join(objects, 'info', 'alternates')).catch(() => null);
  if (alternates !== null) return false;
  const names = await readdir(join(objects, 'pack')).catch(() => null);
  if (names === null) return false;
  const indexes = names.filter((n) => n.endsWith('.idx'));
  if (indexes.length > MAX_PACKS) return false;
  const want = Buffer.from(sha, 'hex');
  for (const name of indexes) {
    const idx = await readFile(join(objects, 'pack', name)).catch(() => null);
    if (idx === null || idx.length > MAX_IDX_BYTES || indexHas(idx, want) !== false) return false;
  }
  return true;
}

/** Whether pack index `idx` (v2) names `want`; `null` when it is not an index this can read. */
export function indexHas(idx: Buffer, want: Buffer): boolean | null {
  if (idx.length < IDX_NAMES_AT || idx.readUInt32BE(0) !== IDX_MAGIC || idx.readUInt32BE(4) !== 2)
    return null;
  const first = want[0] as number;
  const count = idx.readUInt32BE(8 + 255 * 4);
  const hi0 = idx.readUInt32BE(8 + first * 4);
  const lo0 = first === 0 ? 0 : idx.readUInt32BE(8 + (first - 1) * 4);
  const size = want.length;
  // Names, CRCs (4 bytes) and offsets (4 bytes) per object, then the trailer's two checksums.
  if (lo0 > hi0 || hi0 > count || idx.length < IDX_NAMES_AT + count * (size + 8) + 2 * size)
    return null;
  let lo = lo0;
  let hi = hi0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = IDX_NAMES_AT + mid * size;
    const c = idx.compare(want, 0, size, at, at + size);
    if (c === 0) return true;
    if (c > 0) hi = mid;
    else lo = mid + 1;
  }
  return false;
}
