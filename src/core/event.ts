import type { EventOrigin, PinnedInput } from './build.js';
import type { RequestFacts } from './change-request.js';
import type { GitSource, JobName, Pipeline, SourceName } from './pipeline.js';

/**
 * A claim that a source may have a new version, as stored in the inbox. Everything the
 * scheduler needs is in here; the raw payload stays in the adapter that received it.
 */
export interface SourceEvent {
  readonly kind: 'source';
  /** Inbox row id. */
  readonly id: number;
  readonly source: SourceName;
  readonly version: string;
  readonly origin: EventOrigin;
  readonly receivedAt: number;
  /** Branch name for git versions. */
  readonly ref: string | null;
  /** Paths the change touched, when the event says (webhooks); `null` = unknown → path filters pass. */
  readonly changedPaths: readonly string[] | null;
  /** For `output` events: the build that produced the version. */
  readonly producedBy: number | null;
  /**
   * How the version relates to the current head of its source and ref, asked of the git mirror
   * by the scheduler's shell just before deciding; `null` when nobody asked (no head on the ref
   * yet, the same version, a source that is not git, no mirror to ask).
   */
  readonly ancestry: Ancestry | null;
  /** For a change request's ref (`pr/42`): its target branch and whether it was closed. */
  readonly request?: RequestFacts;
}

/**
 * A fact about a git version relative to `head` (the head the question was asked against):
 * `ancestor` — an older commit of the head's history (a late delivery, a poll racing a push);
 * `descendant` — a fast-forward; `unrelated` — neither (a force push); `unknown` — the mirror
 * could not tell (`reason` says why).
 */
export type Ancestry =
  | { readonly relation: 'ancestor' | 'descendant' | 'unrelated'; readonly head: string }
  | { readonly relation: 'unknown'; readonly head: string; readonly reason: string };

/** A person (or API client) asks for a job to run with the current inputs. */
export interface TriggerEvent {
  readonly kind: 'trigger';
  readonly id: number;
  readonly job: JobName;
  readonly force: boolean;
  readonly by: string | null;
  /** Inputs fixed to a version the store has seen (checked before the event is written). */
  readonly pins: readonly PinnedInput[];
  /** Set by a rebuild: the build whose input set this trigger repeats. */
  readonly rebuildOf: number | null;
  readonly receivedAt: number;
}

/** The pipeline was (re)loaded: every job whose fingerprint is new gets one build. */
export interface ReconcileEvent {
  readonly kind: 'reconcile';
  readonly id: number;
  readonly receivedAt: number;
}

/** A quiet period ended for a job: build it with the newest versions. */
export interface SettleEvent {
  readonly kind: 'settle';
  readonly id: number;
  readonly job: JobName;
  readonly receivedAt: number;
}

export type SchedulerEvent = SourceEvent | TriggerEvent | ReconcileEvent | SettleEvent;

/** An event as stored or as it arrives: only a source event can announce a version. */
export type AnnouncingEvent =
  | Pick<SourceEvent, 'kind' | 'source' | 'version' | 'origin'>
  | { readonly kind: Exclude<SchedulerEvent['kind'], 'source'> };

/**
 * The git commits `events` announce, with their source: what start-early fetches. Not a build's
 * output (its commit is its upstream's, already fetched) nor a version of another kind of source.
 */
export function announcedGitVersions(
  pipeline: Pipeline,
  events: Iterable<AnnouncingEvent>,
): { source: GitSource; version: string }[] {
  const out: { source: GitSource; version: string }[] = [];
  for (const e of events) {
    if (e.kind !== 'source' || e.origin === 'output') continue;
    const def = pipeline.sources.get(e.source);
    if (def?.kind === 'git') out.push({ source: def, version: e.version });
  }
  return out;
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
