import type { Logger } from 'pino';
import type { AgentsPort } from '../../store/ports.js';

/** The lease side of local slots on a server replica. */
export interface SlotLeases {
  readonly port: Pick<AgentsPort, 'renewLeases' | 'finishLeased' | 'handBackClaims'>;
  /** How long a claim or renewal keeps a lease (`serve --agent-lease`); renewed every third. */
  readonly ms: number;
}

/** Why a build whose lease was lost is killed (it already ended `error: lost` elsewhere). */
export const LEASE_LOST_REASON = 'lease lost: another replica re-queued this build';

export interface LeaseRenewalDeps {
  readonly lease: SlotLeases;
  readonly worker: string;
  readonly now: () => number;
  readonly logger: Logger;
  /** The builds whose leases to renew now (running, not being recorded). */
  readonly held: () => number[];
  /** A build among `held()` whose lease was not renewed: another replica swept it. */
  readonly lost: (id: number) => void;
}

/**
 * Renews the leases of the builds a replica's slots run, every third of the lease (as often as an
 * agent's heartbeat: two renewals may fail before a lease ends). A build whose lease is not
 * renewed — expired and swept while this replica was frozen or cut off from the database — is
 * reported to `lost`. A renewal that fails (database unavailable) changes nothing: the lease
 * sweep gives every lease one more period once the database is back (`RemoteRunner`). One
 * renewal at a time; `stop` is safe to call twice.
 */
export class LeaseRenewal {
  private readonly timer: NodeJS.Timeout;
  private renewing = false;

  constructor(private readonly deps: LeaseRenewalDeps) {
    this.timer = setInterval(() => void this.renew(), Math.max(500, Math.floor(deps.lease.ms / 3)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    const { deps } = this;
    const ids = deps.held();
    if (this.renewing || ids.length === 0) return;
    this.renewing = true;
    try {
      const kept = new Set(
        await deps.lease.port.renewLeases(deps.worker, ids, deps.now() + deps.lease.ms),
      );
      for (const id of ids) if (!kept.has(id)) deps.lost(id);
    } catch (err) {
      deps.logger.warn(
        { reason: err instanceof Error ? err.message : String(err) },
        'renewing build leases failed; trying again',
      );
    } finally {
      this.renewing = false;
    }
  }
}
