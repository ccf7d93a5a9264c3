import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver, SHA, startReporting, waitFor, webhook, type Reporting } from './helpers.js';

/**
 * Issue 11 point 4: the time between two attempts of a report equals the `retryInMs` that was
 * logged for it. The dispatcher's safety-net poll runs every 50 ms here, far more often than the
 * backoff, so a poll that retried early (as it did for stream targets) shows at once.
 */
const POLL_MS = 50;
/** Scheduling slack: the delay is measured from the failed attempt's end to the next one's start. */
const LATE_MS = 150;

interface LogLine {
  readonly msg: string;
  readonly time: number;
  readonly retryInMs?: number;
}

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) },
  );
  return { logger, lines };
}

/** A loopback TCP port that accepts and at once closes: an AMQP broker that is not there. */
class SlammingPort {
  readonly accepts: number[] = [];
  private readonly server: Server = createServer((s: Socket) => {
    this.accepts.push(Date.now());
    s.destroy();
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `amqp://guest:guest@127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('report retries happen when the log says they will', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function reporting(...args: Parameters<typeof startReporting>): Promise<Reporting> {
    const rep = await startReporting(...args);
    cleanups.push(() => rep.stop());
    return rep;
  }

  it('HTTP: each gap between attempts matches the logged retryInMs', async () => {
    let failures = 3;
    const r = new Receiver((_req, res) => {
      if (failures-- > 0) res.writeHead(503).end('busy');
      else res.writeHead(204).end();
    });
    const url = await r.start();
    cleanups.push(() => r.stop());
    const { logger, lines } = capture();
    const { h } = await reporting([webhook(url, { maxAttempts: 6 })], {
      logger,
      retry: { initialMs: 300, maxMs: 2_000 },
      pollMs: POLL_MS,
    });
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('the fourth attempt', () => r.requests.length >= 4, 10_000);

    const logged = lines.filter((l) => l.msg === 'delivery failed; retrying');
    expect(logged.map((l) => l.retryInMs)).toHaveLength(3);
    const times = r.requests.slice(0, 4).map((q) => q.at);
    for (let i = 0; i < 3; i++) {
      const gap = times[i + 1]! - times[i]!;
      const said = logged[i]!.retryInMs!;
      expect(gap, `gap ${i + 1}: logged ${said} ms`).toBeGreaterThanOrEqual(said - 5);
      expect(gap, `gap ${i + 1}: logged ${said} ms`).toBeLessThanOrEqual(said + LATE_MS);
    }
  });

  it('AMQP: the broker sees the next connection when the logged retryInMs says, not at the next poll', async () => {
    const port = new SlammingPort();
    const url = await port.start();
    cleanups.push(() => port.stop());
    const { logger, lines } = capture();
    const { h } = await reporting([{ kind: 'amqp', url, exchange: 'ci.events' }], {
      logger,
      reconnect: { initialMs: 400, maxMs: 1_600 },
      pollMs: POLL_MS,
    });
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('four connection attempts', () => port.accepts.length >= 4, 10_000);

    const logged = lines.filter(
      (l) => l.msg === 'report target unreachable; events wait in the outbox',
    );
    expect(logged.length).toBeGreaterThanOrEqual(3);
    const times = port.accepts.slice(0, 4);
    for (let i = 0; i < 3; i++) {
      const gap = times[i + 1]! - times[i]!;
      const said = logged[i]!.retryInMs!;
      expect(gap, `gap ${i + 1}: logged ${said} ms`).toBeGreaterThanOrEqual(said - 5);
      expect(gap, `gap ${i + 1}: logged ${said} ms`).toBeLessThanOrEqual(said + LATE_MS);
    }
  });
});
