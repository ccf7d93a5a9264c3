import type { FastifyBaseLogger } from 'fastify';
import { isFinished } from '../../core/build.js';
import type { Bus } from '../../bus/port.js';
import type { readLog as ReadLog } from '../../executor/log-reader.js';
import type { ReadPort } from '../../store/ports.js';
import type { SseStream } from '../sse.js';
import type { LogEnd, LogLine } from '../../api/types.js';

/** Bytes read per step; small enough that a slow client holds little in memory. */
const CHUNK_BYTES = 256 * 1024;
/** The fallback when no bus message arrives (a lost wake-up, a remote writer); never faster than 250 ms. */
const FALLBACK_POLL_MS = 1000;
/**
 * A finished build whose recorded log size was not read yet: its last bytes may still be on their
 * way to the database (another replica copies them within ~200 ms). Waited for this long at most.
 */
const TAIL_WAIT_MS = 250;
const TAIL_WAITS = 40;

export interface FollowLogOptions {
  readonly read: Pick<ReadPort, 'getBuild'>;
  readonly live: Pick<Bus, 'subscribe'>;
  readonly dataDir: string;
  readonly readLog: typeof ReadLog;
  readonly buildId: number;
  readonly from: number;
  readonly stream: SseStream;
  readonly log: FastifyBaseLogger;
}

/**
 * Streams a build's log from byte `from` until the build finished and every line was sent, then
 * sends `end` and closes. Wakes on the bus (`log` for new bytes, `build` for the state change),
 * with a slow timer as the fallback. Waits for the socket to drain between chunks, so a slow client
 * slows reading instead of filling memory. Never rejects.
 */
export async function followLog(o: FollowLogOptions): Promise<void> {
  const { read, live, stream, buildId } = o;
  let wake: (() => void) | null = null;
  let woken = false;
  const poke = () => {
    woken = true;
    wake?.();
  };
  const unsubscribe = [
    live.subscribe('log', (m) => {
      if (m.buildId === buildId) poke();
    }),
    live.subscribe('build', (r) => {
      if (r.buildId === buildId) poke();
    }),
  ];
  stream.onClose(() => {
    for (const u of unsubscribe) u();
    poke();
  });
  let offset = o.from;
  let tailWaits = 0;
  try {
    while (!stream.closed) {
      woken = false;
      const build = await read.getBuild(buildId);
      if (!build) break;
      const finished = isFinished(build.state);
      const chunk = await o.readLog(o.dataDir, buildId, offset, CHUNK_BYTES);
      chunk.lines.forEach((line, i) => {
        const data: LogLine = line;
        stream.send('line', data, i === chunk.lines.length - 1 ? chunk.nextOffset : undefined);
      });
      const progressed = chunk.nextOffset > offset;
      offset = chunk.nextOffset;
      await stream.drained();
      if (progressed && offset < chunk.size) continue;
      // Finished builds write nothing more; a trailing partial line would never complete. A log
      // read from the database may lag the recorded size a moment: wait for it, bounded.
      if (finished && offset < build.logBytes && tailWaits < TAIL_WAITS) {
        if (!progressed) tailWaits++;
        await new Promise((resolve) => setTimeout(resolve, TAIL_WAIT_MS));
        continue;
      }
      if (finished) {
        const end: LogEnd = { state: build.state };
        stream.send('end', end);
        break;
      }
      if (!woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, FALLBACK_POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    }
  } catch (err) {
    o.log.error({ err, build: buildId }, 'following the log failed');
  } finally {
    stream.close();
  }
}
