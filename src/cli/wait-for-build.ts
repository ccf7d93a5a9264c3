import { isFinished } from '../core/build.js';
import { describeEnding } from '../core/build-ending.js';
import type { ApiBuild as Build, ApiBuildFields, BuildEvent, BuildResponse } from '../api/types.js';
import type { ApiClient } from './client.js';
import { ConnectionError } from './errors.js';
import { formatReason } from './format/build.js';
import type { Output } from './output.js';

/** `/api/events` sends a heartbeat every 15 s: four missed ones mean the connection is dead. */
export const EVENTS_IDLE_TIMEOUT_MS = 60_000;
/** Reconnects after a dropped event stream before giving up. */
const MAX_RECONNECTS = 5;

/**
 * Waits until build `id` of `job` is finished and returns it. Subscribes to `/api/events?job=`
 * first and only then reads the build, so a build that finishes in between is not missed. A
 * build superseded by a newer one is followed to that one: the newer build is the answer to
 * "did my change pass?". Progress goes to stderr.
 */
export async function waitForBuild(
  client: ApiClient,
  out: Output,
  job: string,
  id: number,
): Promise<Build> {
  let current = id;
  let reconnects = 0;
  for (;;) {
    let events: AsyncGenerator<{ event: string; data: string }, void, undefined>;
    try {
      events = await client.stream(
        '/api/events',
        { job },
        { idleTimeoutMs: EVENTS_IDLE_TIMEOUT_MS },
      );
    } catch (err) {
      if (!(err instanceof ConnectionError) || reconnects >= MAX_RECONNECTS) throw err;
      reconnects += 1;
      await sleep(1000 * reconnects);
      continue;
    }
    try {
      // Catch up: the build may have moved on before the subscription started.
      for (;;) {
        const build = (await client.getJson<BuildResponse>(`/api/builds/${current}`)).build;
        const next = successor(build);
        if (next === null) {
          if (isFinished(build.state)) return build;
          break;
        }
        out.note(`build #${current} was superseded by #${next}; waiting for #${next}`);
        current = next;
      }
      for await (const message of events) {
        if (!message.event.startsWith('build.')) continue;
        const { build } = JSON.parse(message.data) as BuildEvent;
        if (build.id !== current) continue;
        if (build.state === 'running' && message.event === 'build.started') {
          out.note(`build #${build.id} started`);
        }
        if (!isFinished(build.state)) continue;
        const next = successor(build);
        if (next === null) return build;
        out.note(`build #${current} was superseded by #${next}; waiting for #${next}`);
        current = next;
        const replacement = (await client.getJson<BuildResponse>(`/api/builds/${current}`)).build;
        if (isFinished(replacement.state) && successor(replacement) === null) return replacement;
      }
      // The server closed the stream (a restart, say): subscribe again.
    } catch (err) {
      if (!(err instanceof ConnectionError) || reconnects >= MAX_RECONNECTS) throw err;
    } finally {
      await events.return();
    }
    reconnects += 1;
    out.note(`lost the event stream; reconnecting (${reconnects}/${MAX_RECONNECTS})`);
    await sleep(1000 * reconnects);
  }
}

/** The build to follow instead, for a superseded build that names its replacement. */
function successor(build: Build): number | null {
  return build.state === 'superseded' && build.relatedBuild !== null ? build.relatedBuild : null;
}

/** `build #42 passed`, `build #42 failed: step "npm test": exit code 1`. */
export function describeResult(build: ApiBuildFields): string {
  const reason = build.state === 'passed' ? null : formatReason(build);
  return `build #${build.id} (${build.job}) ${describeEnding(build.state, reason)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
