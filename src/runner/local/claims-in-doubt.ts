import type { Logger } from 'pino';
import type { Build } from '../../core/build.js';
import type { AgentsPort } from '../../store/ports.js';
import { isStoreUnavailable } from '../../store/ports/unavailable.js';

export interface ClaimsInDoubtDeps {
  readonly port: Pick<AgentsPort, 'handBackClaims'>;
  readonly worker: string;
  readonly now: () => number;
  readonly logger: Logger;
  /** The builds this worker's slots run now (never handed back). */
  readonly running: () => number[];
  /** A build put back in the queue (for the runner's events). */
  readonly handedBack: (build: Build) => void;
}

/**
 * A claim whose answer was lost (the database restarted during its COMMIT) may have committed:
 * the store then says this worker runs a build it never started. Rather than leave it to its
 * lease (a whole `--agent-lease` later, and it would end `error: lost`), the next claim round,
 * once the store answers again, hands such builds back to the queue first. The claim loop is
 * serial, so no claim of this worker is in flight while it does.
 */
export class ClaimsInDoubt {
  private inDoubt = false;

  constructor(private readonly deps: ClaimsInDoubtDeps) {}

  /** Runs `claim`; a store outage during it leaves the claim in doubt. */
  async claim<T>(claim: () => Promise<T>): Promise<T> {
    try {
      return await claim();
    } catch (err) {
      if (isStoreUnavailable(err)) this.inDoubt = true;
      throw err;
    }
  }

  /** Hands back the builds a claim in doubt left with this worker; nothing when none is. */
  async settle(): Promise<void> {
    if (!this.inDoubt) return;
    const { deps } = this;
    const back = await deps.port.handBackClaims(deps.worker, deps.running(), deps.now());
    this.inDoubt = false;
    for (const build of back) {
      deps.logger.warn(
        { build: build.id, job: build.job },
        'build handed back to the queue: claimed while the database restarted, never started here',
      );
      deps.handedBack(build);
    }
  }
}
