import { api } from '../api.js';
import type { LogLine, LogPage } from '../api-types.js';

/** A log line with the byte offset where it starts in the log file: its stable address. */
export interface Line extends LogLine {
  readonly offset: number;
}

/** Bytes of line starts per chunk; a 100 MB log is ~200 chunks, of which a few are loaded. */
export const CHUNK = 512 * 1024;
/** The writer never writes a line longer than this (64 KiB text + prefix). */
const MAX_LINE = 66 * 1024;

const encoder = new TextEncoder();

/** Bytes the stored line takes: `<ts> <o|e|s> <text>\n` (log-reader's format). */
export function storedLength(l: LogLine): number {
  return String(l.ts).length + 3 + encoder.encode(l.text).length + 1;
}

export interface Chunk {
  readonly index: number;
  readonly lines: Line[];
  /** Where the log continues after this chunk's last whole line. */
  readonly end: number;
  /** The log file's size when this chunk was read. */
  readonly size: number;
  readonly done: boolean;
}

/**
 * Reads the lines that *start* in `[index·CHUNK, (index+1)·CHUNK)`. The API reads whole lines
 * from any byte offset, so it is asked from one byte before the chunk (a line starting exactly
 * at the boundary is then whole, and the partial line before it is dropped by the server or
 * filtered here) and a little past it (the line crossing the far boundary is this chunk's).
 * Offsets are counted back from `nextOffset`, the one offset the server states.
 */
export async function loadChunk(buildId: number, index: number): Promise<Chunk> {
  const from = Math.max(0, index * CHUNK - 1);
  const page = await api<LogPage>(
    `/api/builds/${buildId}/log?offset=${from}&limit=${CHUNK + MAX_LINE}`,
  );
  const lo = index * CHUNK;
  const hi = lo + CHUNK;
  const withOffsets: Line[] = new Array<Line>(page.lines.length);
  let at = page.nextOffset;
  for (let i = page.lines.length - 1; i >= 0; i--) {
    const l = page.lines[i] as LogLine;
    at -= storedLength(l);
    withOffsets[i] = { ...l, offset: at };
  }
  const lines = withOffsets.filter((l) => l.offset >= lo && l.offset < hi);
  const last = lines[lines.length - 1];
  const end = last ? last.offset + storedLength(last) : Math.max(lo, Math.min(page.nextOffset, hi));
  return { index, lines, end, size: page.size, done: page.done };
}

/** The last chunk of a log `size` bytes long. */
export function lastChunkIndex(size: number): number {
  return Math.max(0, Math.floor(Math.max(0, size - 1) / CHUNK));
}

/**
 * Downloads the whole log as text (`<stream> <text>` per line, ISO timestamps) in 8 MiB pages:
 * a plain link cannot carry the token a protected server needs.
 */
export async function downloadRaw(
  buildId: number,
  onProgress: (bytes: number) => void,
): Promise<Blob> {
  const parts: string[] = [];
  let offset = 0;
  for (let page = 0; page < 10_000; page++) {
    const p = await api<LogPage>(
      `/api/builds/${buildId}/log?offset=${offset}&limit=${8 * 1024 * 1024}`,
    );
    parts.push(
      p.lines.map((l) => `${new Date(l.ts).toISOString()} ${l.stream} ${l.text}\n`).join(''),
    );
    onProgress(p.nextOffset);
    if (p.nextOffset <= offset || p.nextOffset >= p.size) break;
    offset = p.nextOffset;
  }
  return new Blob(parts, { type: 'text/plain;charset=utf-8' });
}
