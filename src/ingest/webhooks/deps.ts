import type { ChangeRequestPort } from '../../store/ports/change-requests.js';
import type { Pipeline, SourceName } from '../../core/pipeline.js';
import type { ChangedPathsLookup } from '../changed-paths.js';
import type { AppendedEvent, NewEvent } from '../../store/ports.js';
import type { InFlightLimits } from './bodies-in-flight.js';
import type { ForgeName } from './forge-driver.js';
import type { SignatureFailure } from './signature.js';

/** Which endpoint an event came through (the metric label). */
export type IngestKind = ForgeName | 'generic' | 'git';

/** What happened to a delivery, per source it concerned (`null` source: it concerned none). */
export type IngestOutcome = 'accepted' | 'redelivery' | 'ignored' | 'polled';

/** Where accepted events go: the inbox (through the engine, which wakes the scheduler). */
export interface IngestTarget {
  /** Durable once resolved (the inbox write); scheduling happens afterwards, asynchronously. */
  ingestMany(events: readonly NewEvent[]): Promise<AppendedEvent[]>;
  readonly pipeline: Pipeline;
}

/** The slice of `FallbackPoller` the endpoints need. */
export interface PollTrigger {
  pollNow(name: SourceName): Promise<unknown>;
  eventArrived(name: SourceName): void;
}

export interface WebhookDeps {
  readonly target: IngestTarget;
  /** Checks http sources poked without a version; without it such pokes answer 409. */
  readonly poller?: PollTrigger | null;
  /**
   * Fills in the changed paths of git-hook and generic events that carry none, from the git
   * mirror; without it such events pass every path filter ("unknown").
   */
  readonly paths?: ChangedPathsLookup;
  /** Where change requests are recorded (fork safety, reports); without it they are not kept. */
  readonly requests?: Pick<ChangeRequestPort, 'recordRequest'>;
  /** Largest accepted body in bytes (default 25 MiB); larger ones get 413. */
  readonly bodyLimit?: number;
  /** Body bytes held at once, per client address and in all (default: `inFlightLimits`). */
  readonly inFlight?: InFlightLimits;
  readonly now?: () => number;
  /** A delivery was rejected for its signature (metrics). */
  readonly onSignatureFailure?: (kind: IngestKind, reason: SignatureFailure) => void;
  /**
   * Events were verified and are about to be stored (the start-early fetch hooks in here); must
   * return at once and never throw.
   */
  readonly onAccepted?: (events: readonly NewEvent[]) => void;
  /** A delivery was handled (metrics); called once per source it concerned. */
  readonly onEvent?: (source: SourceName | null, kind: IngestKind, outcome: IngestOutcome) => void;
}

/** Writes planned events and tells the poller and the metrics; the reply body for `202`. */
export async function ingestPlanned(
  deps: WebhookDeps,
  kind: IngestKind,
  events: readonly NewEvent[],
  ignored: readonly string[],
): Promise<{ accepted: number; events: number[]; redelivery?: true; ignored?: string[] }> {
  deps.onAccepted?.(events);
  const appended = await deps.target.ingestMany(events);
  appended.forEach((a, i) => {
    const e = events[i];
    const source = e?.kind === 'source' ? e.source : null;
    if (source !== null && !a.redelivery) deps.poller?.eventArrived(source);
    deps.onEvent?.(source, kind, a.redelivery ? 'redelivery' : 'accepted');
  });
  return {
    accepted: appended.length,
    events: appended.map((a) => a.id),
    ...(appended.length > 0 && appended.every((a) => a.redelivery)
      ? { redelivery: true as const }
      : {}),
    ...(ignored.length > 0 ? { ignored: [...ignored] } : {}),
  };
}
