import { closingLine } from '../core/build-ending.js';
import type { EngineOptions } from './engine.js';

/**
 * Recovery at start, before anything runs: builds this server (this replica, by worker name) left
 * `running` end `error: lost` and are re-queued (`maxAttempts`), their leftover processes are
 * killed and their logs get a closing line. A replica with leases also kills every step process
 * its data directory left, including those of builds another replica re-ran meanwhile.
 */
export async function recoverLostBuilds(
  opts: Pick<
    EngineOptions,
    'store' | 'executor' | 'logger' | 'replication' | 'worker' | 'maxAttempts'
  >,
  now: number,
): Promise<void> {
  const { store } = opts;
  // A replica recovers only its own builds: the others' may be running right now.
  const worker = opts.replication ? (opts.worker ?? 'local') : undefined;
  const recovered = await store.queue.recoverLostBuilds(now, opts.maxAttempts ?? 2, worker);
  for (const b of recovered.lost) {
    const reaped = (await opts.executor.reapLost?.(b.id)) ?? 0;
    if (reaped > 0)
      opts.logger.warn(
        { build: b.id, processes: reaped },
        'killed processes a lost build left running',
      );
  }
  if (opts.replication?.leases) {
    // A build whose lease another replica swept while this one was down is not found above,
    // but its steps may still run (a `kill -9` leaves them): every step of this data directory
    // is a leftover now, since nothing runs here yet.
    const reaped = (await opts.executor.reapAllLost?.()) ?? 0;
    if (reaped > 0)
      opts.logger.warn({ processes: reaped }, 'killed processes lost builds left running');
  }
  for (const b of recovered.lost) {
    // Before the server listens: no log follower can see the build end without this line.
    await opts.executor.appendSystemLine?.(b.id, closingLine(b.state, b.reason));
    opts.logger.warn(
      { build: b.id, job: b.job },
      'build was running when the server stopped: error (lost)',
    );
  }
}
