import type { Bus } from '../bus/port.js';
import { assertNever } from '../core/event.js';
import type { Runner } from '../runner/port.js';
import type { LeaderLoops } from './leader-loops.js';

export interface ReplicaLinksDeps {
  readonly bus: Pick<Bus, 'publish' | 'subscribe'>;
  /** How often the database is checked for work no wake-up announced. */
  readonly pollMs: number;
  /** This replica's leader loops while it leads. */
  readonly leader: () => LeaderLoops | null;
  readonly runner: Pick<Runner, 'wake' | 'cancelRunning'>;
}

/**
 * How the replicas of one installation keep each other awake. Each says on the bus when it
 * committed inbox or outbox rows (the leader's scheduler or relay looks) and which build to
 * cancel (whoever runs it kills it); relayed `queued` rows wake every runner, and every relayed
 * row keeps the leader's snapshot in step with builds other replicas claim and finish.
 *
 * The bus may lose messages (a broker outage), so every `pollMs` each replica also looks by
 * itself: the leader for pending events and unrelayed rows, every runner for claimable builds.
 * A lost wake-up costs at most `pollMs`. Lifecycle: made at start, `stop()` once (safe twice).
 */
export class ReplicaLinks {
  private readonly unsubscribe: Array<() => void>;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly deps: ReplicaLinksDeps) {
    const { bus, leader, runner } = deps;
    this.unsubscribe = [
      bus.subscribe('replicas', (signal) => {
        switch (signal.kind) {
          case 'inbox':
            leader()?.scheduler.wake();
            return;
          case 'outbox':
            leader()?.relay.wake();
            return;
          case 'cancel':
            runner.cancelRunning(signal.buildId, signal.reason);
            return;
          default:
            assertNever(signal, 'replica signal');
        }
      }),
      bus.subscribe('build', (record) => {
        leader()?.snapshot.buildChanged(record.build);
        if (record.type === 'queued') runner.wake();
      }),
    ];
    this.timer = setInterval(() => {
      leader()?.wake();
      runner.wake();
    }, deps.pollMs);
    this.timer.unref();
  }

  /** Tells the leader that rows were committed here. */
  committed(kind: 'inbox' | 'outbox'): void {
    this.deps.bus.publish('replicas', { kind });
  }

  /** Asks the replica running build `id` to kill it. */
  readonly cancelElsewhere = (id: number, reason: string): void => {
    this.deps.bus.publish('replicas', { kind: 'cancel', buildId: id, reason });
  };

  stop(): void {
    clearInterval(this.timer);
    for (const u of this.unsubscribe.splice(0)) u();
  }
}
