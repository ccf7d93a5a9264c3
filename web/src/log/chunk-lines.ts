import type { LogLine } from '../api-types.js';

/** A log line with the byte offset where it starts in the log file: its stable address. */
export interface Line extends LogLine {
  readonly offset: number;
}

const encoder = new TextEncoder();

/** Bytes the stored line takes: `<ts> <o|e|s> <text>\n` (log-reader's format). */
export function storedLength(l: LogLine): number {
  return String(l.ts).length + 3 + encoder.encode(l.text).length + 1;
}

/** The writer never writes a line longer than this (64 KiB text + prefix). */
export const MAX_LINE = 66 * 1024;
/** A window that surely holds a newline before any offset past it. */
export const BOUNDARY_WINDOW = MAX_LINE + 4 * 1024;

/** Reads `limit` bytes of whole lines from `offset`, as `GET /api/builds/:id/log` does. */
export type ReadPage = (
  offset: number,
  limit: number,
) => Promise<{ readonly lines: readonly LogLine[]; readonly nextOffset: number }>;

/**
 * The start of a line at or before byte `x`. A read from inside a line begins with a fragment
 * that may even parse as a line (`…000042 o text` reads as a line stamped 42), so chunks are
 * never read from a guessed offset: the end of the whole lines in the window just before `x` —
 * `nextOffset`, which the server states exactly — is a line start, and reading from there is exact.
 */
export async function lineStartBefore(x: number, read: ReadPage): Promise<number> {
  if (x <= BOUNDARY_WINDOW) return 0;
  const page = await read(x - BOUNDARY_WINDOW, BOUNDARY_WINDOW);
  return Math.min(page.nextOffset, x);
}

/**
 * The lines that *start* in `[index·chunkBytes, (index+1)·chunkBytes)`, with their byte offsets,
 * and where the log continues after them. `start` must be a line start at or before the chunk
 * (0, a previous chunk's `end`, or {@link lineStartBefore}).
 */
export async function readChunk(
  index: number,
  chunkBytes: number,
  read: ReadPage,
  start?: number,
): Promise<{ lines: Line[]; end: number; nextOffset: number }> {
  const lo = index * chunkBytes;
  const hi = lo + chunkBytes;
  const from = start ?? (await lineStartBefore(lo, read));
  const page = await read(from, hi - from + MAX_LINE);
  const lines: Line[] = [];
  let at = from;
  for (const l of page.lines) {
    if (at >= lo && at < hi) lines.push({ ...l, offset: at });
    at += storedLength(l);
  }
  const last = lines[lines.length - 1];
  const end = last ? last.offset + storedLength(last) : Math.max(lo, Math.min(page.nextOffset, hi));
  return { lines, end, nextOffset: page.nextOffset };
}
