import { api } from '../api.js';
import type { LogPage } from '../api-types.js';
import { readChunk, type Line } from './chunk-lines.js';

export type { Line } from './chunk-lines.js';
export { storedLength } from './chunk-lines.js';

/** Bytes of line starts per chunk; a 100 MB log is ~200 chunks, of which a few are loaded. */
export const CHUNK = 512 * 1024;
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
 * Reads the lines that *start* in `[index·CHUNK, (index+1)·CHUNK)` (see `readChunk`); `start`
 * is a known line start before the chunk (the previous chunk's `end`), saving one request.
 */
export async function loadChunk(buildId: number, index: number, start?: number): Promise<Chunk> {
  let size = 0;
  let done = false;
  const read = async (offset: number, limit: number) => {
    const page = await api<LogPage>(`/api/builds/${buildId}/log?offset=${offset}&limit=${limit}`);
    size = page.size;
    done = page.done;
    return page;
  };
  const { lines, end } = await readChunk(index, CHUNK, read, start);
  return { index, lines, end, size, done };
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
