import type { Build } from '../../core/build.js';
import type { FinishedRun } from './queue.js';

/** A build agent (`nightless agent`) as last seen by the server. */
export interface AgentRecord {
  readonly name: string;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly version: string;
  readonly firstSeenAt: number;
  readonly lastHeartbeatAt: number;
}

/** A build an agent (or a server replica, for its own slots) holds a lease on. */
export interface LeasedBuild {
  readonly id: number;
  readonly job: string;
  readonly worker: string;
  readonly leaseExpiresAt: number;
}

/**
 * What the remote runner keeps about agents and their leases (server replicas lease the builds of
 * their own slots the same way, `runner/local/`). A lease is the pair (build,
 * worker) while the build is `running` with that worker: the claim takes it
 * (`QueuePort.claimNextBuild` with `leaseUntil`), heartbeats move its end, and only its holder may
 * record the result. Every method is one statement or one transaction.
 */
export interface AgentsPort {
  /** Inserts or updates the agent (labels, slots, version) and its heartbeat time. */
  recordAgent(
    agent: Pick<AgentRecord, 'name' | 'labels' | 'slots' | 'version'>,
    now: number,
  ): Promise<void>;
  /** Every agent ever seen, by name. */
  listAgents(): Promise<AgentRecord[]>;
  /** Running builds that hold a lease, oldest first. */
  leasedBuilds(): Promise<LeasedBuild[]>;
  /**
   * Extends the leases `worker` holds among `ids` to `until`; returns the ids it still holds.
   * An id missing from the answer was lost (lease expired, cancelled…): its run must stop.
   */
  renewLeases(worker: string, ids: readonly number[], until: number): Promise<number[]>;
  /**
   * Records the result of a build `worker` holds (as `QueuePort.finishBuild`), atomically with
   * the check; `null` (nothing written) when it does not hold it any more — a stale agent's
   * result never overwrites what happened since. Sent again by the same worker after its ending
   * was recorded (the first answer lost), it writes nothing and returns that recorded build.
   */
  finishLeased(id: number, worker: string, run: FinishedRun, now: number): Promise<Build | null>;
  /**
   * Puts back in the queue every build `worker` holds a lease on but is not among `running`: a
   * claim that committed while its answer was lost (the database restarted during the COMMIT),
   * so the worker never ran it. Each goes back as the same build (state `queued`, worker and
   * lease cleared, its place in the queue kept, one `queued` outbox row) rather than waiting out
   * its lease and ending `error: lost`. Only the worker may call it, and only while it has no
   * claim in flight. Returns the builds put back.
   */
  handBackClaims(worker: string, running: readonly number[], now: number): Promise<Build[]>;
  /**
   * Moves the end of every lease to at least `until`: a server that starts gives each agent one
   * lease period to check in, so its own downtime costs no build.
   */
  extendAllLeases(until: number): Promise<void>;
  /**
   * Ends every running build whose lease ended before `now` as `error: lost` (one `finished`
   * row each) and re-queues each as a new attempt while `attempt < maxAttempts`.
   */
  expireLeases(now: number, maxAttempts: number): Promise<{ lost: Build[]; requeued: Build[] }>;
}
