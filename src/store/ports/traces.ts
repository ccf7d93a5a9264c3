import type { TraceObservation } from '../../core/slo/lead-time.js';

/**
 * Versions' downstream traces as the `lead_time` SLO sees them (docs/slo.md). The write paths
 * only label builds and output events with their root (the announcing event, migration 0012);
 * whether a trace is done is decided here, from one consistent read of the trace.
 */
export interface TracePort {
  /**
   * For each root event id asked (unknown ids and roots without builds are left out): records the
   * trace as done when none of its builds is queued or running and none of its output events is
   * undecided — the time being the last of those endings — and returns each root's state.
   * Idempotent: a trace is done once, whoever asks.
   */
  settleTraces(roots: readonly number[]): Promise<TraceObservation[]>;
}
