import type { Logger } from 'pino';
import type { Pipeline, SourceName } from '../core/pipeline.js';
import type { FallbackPoller } from '../ingest/poll/fallback-poller.js';
import type { ReportDispatcher } from '../reporters/dispatcher.js';

export interface LeaderServicesDeps {
  /** A new poller (one per term: a stopped poller does not start again). */
  readonly makePoller: () => FallbackPoller;
  /** A new report dispatcher; targets resume from their stored cursors. */
  readonly makeReports: () => ReportDispatcher;
  readonly pipeline: () => Pipeline;
  /** One retention run (at the start of a term, then every `retentionIntervalMs`). */
  readonly retention: () => Promise<unknown>;
  readonly retentionIntervalMs: number;
  /** Where report targets never seen before begin in the first term (read before the engine). */
  readonly firstReportsStartAfter: number;
  readonly logger: Logger;
}

interface Term {
  readonly poller: FallbackPoller;
  readonly reports: ReportDispatcher;
  readonly retentionTimer: NodeJS.Timeout;
}

/**
 * What only the leading server runs besides the engine's loops: scheduled fallback polls, report
 * dispatch and periodic retention. A term starts when the server leads (the embedded server: once,
 * after it listens) and ends when it stops leading. Between terms, on-demand polls (`nightless
 * poll`, a poked generic webhook) still run here with a poller that schedules nothing.
 * Changes are serialised; nothing starts before `enable` (the server must listen first: report
 * links need its URL).
 */
export class LeaderServices {
  private term: Term | null = null;
  private standby: FallbackPoller | null = null;
  private changes: Promise<void> = Promise.resolve();
  private wanted = false;
  private enabled = false;
  private stopped = false;
  private terms = 0;

  constructor(private readonly deps: LeaderServicesDeps) {}

  /** The term's poller, or one for on-demand checks only. */
  get poller(): FallbackPoller {
    if (this.term) return this.term.poller;
    this.standby ??= this.deps.makePoller();
    return this.standby;
  }

  /** The term's report dispatcher; `null` while this server does not lead. */
  get reports(): ReportDispatcher | null {
    return this.term?.reports ?? null;
  }

  /** The services may start from now on (the server listens); `leading` is the current state. */
  enable(leading: boolean): Promise<void> {
    this.enabled = true;
    return this.set(leading);
  }

  /** Starts or ends a term to match `leading`. */
  set(leading: boolean): Promise<void> {
    this.wanted = leading;
    const run = this.changes.then(() => this.apply());
    this.changes = run.catch((err: unknown) =>
      this.deps.logger.error({ err }, 'starting or stopping the leader services failed'),
    );
    return run;
  }

  /** After a pipeline reload. */
  async resync(pipeline: Pipeline): Promise<void> {
    await this.changes;
    if (!this.term) return;
    await this.term.poller.resync();
    await this.term.reports.sync(pipeline);
  }

  /** Ends the term for good (shutdown). Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.set(false);
  }

  private async apply(): Promise<void> {
    const leading = this.wanted && this.enabled && !this.stopped;
    if (leading && this.term === null) {
      const first = this.terms === 0;
      this.terms += 1;
      const reports = this.deps.makeReports();
      const poller = this.deps.makePoller();
      const retentionTimer = setInterval(
        () => void this.deps.retention(),
        this.deps.retentionIntervalMs,
      );
      retentionTimer.unref();
      this.term = { poller, reports, retentionTimer };
      await reports.sync(
        this.deps.pipeline(),
        first ? this.deps.firstReportsStartAfter : undefined,
      );
      await poller.start();
      void this.deps.retention();
    } else if (!leading && this.term !== null) {
      const term = this.term;
      this.term = null;
      clearInterval(term.retentionTimer);
      await term.poller.stop();
      await term.reports.stop();
    }
  }
}

/** What the routes and webhooks get: whichever poller runs now. */
export function currentPoller(services: LeaderServices) {
  return {
    pollNow: (name: SourceName) => services.poller.pollNow(name),
    pollAll: () => services.poller.pollAll(),
    canPoll: (name: SourceName) => services.poller.canPoll(name),
    sourceNames: () => services.poller.sourceNames(),
    eventArrived: (name: SourceName) => services.poller.eventArrived(name),
  };
}
