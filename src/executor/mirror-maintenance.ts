/** After the last fetch of a mirror, how long it must stay quiet before its maintenance runs. */
export const MAINTENANCE_QUIET_MS = 5_000;
/** Longest a fetched mirror waits for its maintenance, however busy it stays. */
export const MAINTENANCE_MAX_WAIT_MS = 60_000;

export interface MaintenanceTiming {
  readonly quietMs: number;
  readonly maxWaitMs: number;
}

/**
 * Git's own housekeeping of the mirrors (`git maintenance run --auto`: `gc --auto` packs loose
 * objects and packs once there are too many), taken off the hot path. A fetch runs it before it
 * exits — one more git process on every start-early fetch, ~8 ms on a busy 2-CPU VM between the
 * push and the build's checkout — so mirrors are fetched with `--no-auto-maintenance` and the
 * maintenance runs here instead, once a mirror has had no fetch for `quietMs` (at most
 * `maxWaitMs` after the first fetch it has not yet followed). Timers never keep the process
 * alive; `stop` cancels the ones armed.
 */
export class MirrorMaintenance {
  private readonly due = new Map<string, { timer: NodeJS.Timeout; first: number }>();

  /** `run(mirror)`: the maintenance itself (serialized with the mirror's other git runs). */
  constructor(
    private readonly run: (mirror: string) => Promise<unknown>,
    private readonly timing: MaintenanceTiming = {
      quietMs: MAINTENANCE_QUIET_MS,
      maxWaitMs: MAINTENANCE_MAX_WAIT_MS,
    },
  ) {}

  /** A fetch of `mirror` skipped git's maintenance: (re)arms its timer. */
  fetched(mirror: string): void {
    const now = Date.now();
    const armed = this.due.get(mirror);
    if (armed !== undefined) clearTimeout(armed.timer);
    const first = armed?.first ?? now;
    const delay = Math.max(0, Math.min(this.timing.quietMs, first + this.timing.maxWaitMs - now));
    const timer = setTimeout(() => {
      this.due.delete(mirror);
      void this.run(mirror).catch(() => undefined);
    }, delay);
    timer.unref();
    this.due.set(mirror, { timer, first });
  }

  /** Whether `mirror` has a maintenance armed (tests, metrics). */
  pending(mirror: string): boolean {
    return this.due.has(mirror);
  }

  /** Cancels every armed maintenance (the server stops). Safe to call twice. */
  stop(): void {
    for (const { timer } of this.due.values()) clearTimeout(timer);
    this.due.clear();
  }
}
