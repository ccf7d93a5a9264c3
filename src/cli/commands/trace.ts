import type { Command } from 'commander';
import type { TraceResponse } from '../../api/types.js';
import type { ApiClient } from '../client.js';
import { commandContext, withClientOptions } from '../client-options.js';
import { UsageError } from '../errors.js';
import { requestAsVersion } from '../request-target.js';
import { flattenTrace, formatTraceNode, formatTraceTree, traceFinished } from '../format/trace.js';
import { formatClock } from '../format/time.js';
import type { Output } from '../output.js';
import { EVENTS_IDLE_TIMEOUT_MS } from '../wait-for-build.js';

interface TraceFlags {
  readonly watch?: boolean;
}

/** Events come in bursts (queued+started, several jobs at once): one re-fetch per burst. */
const DEBOUNCE_MS = 250;
/**
 * When every build is finished, downstream builds may still be about to be queued (a finished
 * build's outputs go through the inbox first). Look once more after this pause before stopping.
 */
const SETTLE_MS = 1500;
/** Re-fetch at least this often, for ETAs and in case an event was missed. */
const REFRESH_MS = 15_000;
/** Without an event stream (it dropped), poll at this pace instead. */
const POLL_MS = 5000;

export function registerTrace(program: Command): void {
  withClientOptions(
    program
      .command('trace')
      .description(
        'show everything a version caused: the builds that used it, and theirs downstream',
      )
      .argument(
        '<source@version>',
        'a source and a version of it (a prefix of a commit SHA will do), or a change request: [SOURCE:]pr/NUMBER',
      )
      .option('--watch', 'keep redrawing until every build in the tree is finished'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ nightless trace app@3f2a1c0
  app@3f2a1c0d9e
  ├─ build #42 passed 14:00:01→14:01:31
  │  └─ integration #44 running 14:01:35→… (eta ~14:05:00) via build.dist@9b1e77a0c2
  └─ lint #43 passed 14:00:01→14:00:20

  $ nightless trace app@3f2a1c0 --watch     # "where is my change now?", live
  $ nightless trace pr/42                    # a change request, at its current head`,
    )
    .action(async (given: string, opts: TraceFlags, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      // A change request follows its current head commit.
      const target = (await requestAsVersion(client, given)) ?? given;
      const at = target.indexOf('@');
      if (at <= 0 || at === target.length - 1) {
        throw new UsageError(`expected SOURCE@VERSION (e.g. app@3f2a1c0), got "${target}"`);
      }
      const path = `/api/trace/${encodeURIComponent(target.slice(0, at))}/${encodeURIComponent(target.slice(at + 1))}`;
      const fetchTrace = (): Promise<TraceResponse> => client.getJson<TraceResponse>(path);
      if (opts.watch !== true) {
        const trace = await fetchTrace();
        if (json) return out.json(trace);
        return out.print(...formatTraceTree(trace, out.colours));
      }
      await watch(client, out, json, fetchTrace);
    });
}

/** Draws a trace as it changes: a redrawn screen on a TTY, otherwise each new state once. */
class TraceView {
  private readonly printed = new Map<number, string>();
  private first = true;
  private lastJson = '';

  constructor(
    private readonly out: Output,
    private readonly json: boolean,
  ) {}

  draw(trace: TraceResponse, live: boolean): void {
    const { out } = this;
    if (this.json) {
      const text = JSON.stringify(trace);
      if (text !== this.lastJson) out.write(`${text}\n`);
      this.lastJson = text;
      return;
    }
    if (out.isTTY) {
      const footer = live
        ? out.colours.dim(`watching since ${formatClock(out.now())} — Ctrl-C to stop`)
        : out.colours.dim('every build is finished');
      out.write('\x1b[2J\x1b[H');
      out.print(...formatTraceTree(trace, out.colours), '', footer);
      return;
    }
    const nodes = flattenTrace(trace.nodes);
    if (this.first) {
      out.print(...formatTraceTree(trace, out.colours));
      for (const n of nodes) this.printed.set(n.build.id, n.build.state);
      this.first = false;
      return;
    }
    for (const n of nodes) {
      if (this.printed.get(n.build.id) === n.build.state) continue;
      this.printed.set(n.build.id, n.build.state);
      out.print(`${formatClock(out.now())} ${formatTraceNode(n, out.colours)}`);
    }
  }
}

async function watch(
  client: ApiClient,
  out: Output,
  json: boolean,
  fetchTrace: () => Promise<TraceResponse>,
): Promise<void> {
  const stop = new AbortController();
  // An object, not a `let`: TypeScript would narrow a closure-assigned `let` to `null` below.
  const waiter: { wake: (() => void) | null } = { wake: null };
  let streaming = true;
  // Subscribe before the first fetch, so no change between the two goes unseen.
  const events = await client.stream(
    '/api/events',
    {},
    { idleTimeoutMs: EVENTS_IDLE_TIMEOUT_MS, signal: stop.signal },
  );
  const pump = (async () => {
    try {
      for await (const _message of events) waiter.wake?.();
    } catch (err) {
      if (!stop.signal.aborted) out.note(`event stream lost (${String(err)}); polling every 5s`);
    } finally {
      streaming = false;
    }
  })();
  const view = new TraceView(out, json);
  const nextChange = (): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, streaming ? REFRESH_MS : POLL_MS);
      function done(): void {
        clearTimeout(timer);
        waiter.wake = null;
        resolve();
      }
      waiter.wake = done;
    });
  try {
    let trace = await fetchTrace();
    for (;;) {
      if (traceFinished(trace)) {
        await sleep(SETTLE_MS);
        const again = await fetchTrace();
        if (traceFinished(again)) {
          view.draw(again, false);
          return;
        }
        trace = again;
      }
      view.draw(trace, true);
      await nextChange();
      await sleep(DEBOUNCE_MS);
      trace = await fetchTrace();
    }
  } finally {
    stop.abort();
    await pump;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
