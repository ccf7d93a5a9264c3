import { open } from 'node:fs/promises';
import { join } from 'node:path';

export interface LogLine {
  /** Epoch milliseconds when the line was written. */
  readonly ts: number;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly text: string;
}

export interface LogChunk {
  readonly lines: LogLine[];
  /** Where the next read starts: just past the last whole line returned. */
  readonly nextOffset: number;
  /** The log file's size now (0 when it does not exist yet). */
  readonly size: number;
}

const STREAMS = { o: 'stdout', e: 'stderr', s: 'system' } as const;
const LINE_RE = /^(\d+) ([oes]) ([\s\S]*)$/;
/** The writer never writes a longer line (64 KiB text + prefix); reading further is pointless. */
const MAX_SCAN_BYTES = 256 * 1024;

/** The log file of a build. */
export function logPath(dataDir: string, buildId: number): string {
  return join(dataDir, 'logs', `${buildId}.log`);
}

/** Parses one stored line (without its `\n`); `null` when it is not in the log format. */
export function parseLogLine(raw: string): LogLine | null {
  const m = LINE_RE.exec(raw);
  if (m === null) return null;
  const [, ts, code, text] = m;
  return { ts: Number(ts), stream: STREAMS[code as keyof typeof STREAMS], text: text ?? '' };
}

/** Random access to a log's bytes: the local file, or the copy in the database. */
export interface LogBytes {
  /** The log's size now. */
  readonly size: number;
  /** Up to `length` bytes from `position` (fewer at the end). */
  read(position: number, length: number): Promise<Buffer>;
}

/**
 * Reads whole lines from `fromOffset`, about `maxBytes` of them (more when a single line is
 * longer). A line still being written (no `\n` yet) is left for the next read. Safe while the
 * writer appends.
 */
export async function readLog(
  dataDir: string,
  buildId: number,
  fromOffset: number,
  maxBytes: number,
): Promise<LogChunk> {
  let fh;
  try {
    fh = await open(logPath(dataDir, buildId), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { lines: [], nextOffset: fromOffset, size: 0 };
    }
    throw err;
  }
  try {
    const file = fh;
    const size = (await file.stat()).size;
    return await readLines(
      {
        size,
        read: async (position, length) => {
          const buf = Buffer.alloc(length);
          const { bytesRead } = await file.read(buf, 0, length, position);
          return buf.subarray(0, bytesRead);
        },
      },
      fromOffset,
      maxBytes,
    );
  } finally {
    await fh.close();
  }
}

/** {@link readLog} over any {@link LogBytes}. */
export async function readLines(
  bytes: LogBytes,
  fromOffset: number,
  maxBytes: number,
): Promise<LogChunk> {
  const { size } = bytes;
  const start = Math.max(0, Math.min(fromOffset, size));
  let want = Math.max(1, Math.min(maxBytes, size - start));
  for (;;) {
    const data = await bytes.read(start, want);
    const lastNl = data.lastIndexOf(0x0a);
    const more = start + data.length < size;
    if (lastNl === -1 && more && want < MAX_SCAN_BYTES) {
      want = Math.min(MAX_SCAN_BYTES, want * 4, size - start);
      continue; // one line longer than maxBytes: widen the window
    }
    if (lastNl === -1) return { lines: [], nextOffset: start, size };
    const lines: LogLine[] = [];
    for (const raw of data.subarray(0, lastNl).toString('utf8').split('\n')) {
      const line = parseLogLine(raw);
      if (line !== null) lines.push(line);
    }
    return { lines, nextOffset: start + lastNl + 1, size };
  }
}
