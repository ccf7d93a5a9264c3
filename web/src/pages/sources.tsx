import { ActionButton } from '../actions.js';
import { post } from '../api.js';
import type { Source } from '../api-types.js';
import { ErrorNote, useApi, useNow } from '../components.js';
import { duration, isoTime, short, when } from '../format.js';
import { useBuildEvents } from '../live.js';

/** Sources: heads and where they came from, the fallback check's schedule and health. */
export function SourcesPage() {
  const res = useApi<{ sources: Source[] }>('/api/sources');
  const now = useNow(5000);
  useBuildEvents(() => res.reload());
  return (
    <>
      <h1>Sources</h1>
      {res.error ? <ErrorNote error={res.error} /> : null}
      {res.data?.sources.map((s) => {
        const age = s.lastEventAt === null ? null : now - s.lastEventAt;
        const rate =
          s.eventsReceived + s.missedEvents > 0
            ? (100 * s.missedEvents) / (s.eventsReceived + s.missedEvents)
            : 0;
        return (
          <section key={s.name} id={s.name} aria-label={`source ${s.name}`} class="card">
            <h2>
              {s.name} <span class="muted">({s.kind})</span>
            </h2>
            {s.url && (
              <p class="mono">
                {s.url}
                {s.branches ? ` · ${s.branches.join(', ')}` : ''}
              </p>
            )}
            <table class="data" aria-label={`heads of ${s.name}`}>
              <thead>
                <tr>
                  <th scope="col">ref</th>
                  <th scope="col">head</th>
                  <th scope="col">origin</th>
                  <th scope="col">since</th>
                </tr>
              </thead>
              <tbody>
                {s.heads.map((h) => (
                  <tr key={h.ref ?? ''}>
                    <td>{h.ref ?? '—'}</td>
                    <td class="mono">
                      <a
                        href={`/trace?source=${encodeURIComponent(s.name)}&version=${encodeURIComponent(h.version)}`}
                      >
                        {short(h.version)}
                      </a>
                    </td>
                    <td>{h.origin}</td>
                    <td title={isoTime(h.at)}>{when(h.at, now)}</td>
                  </tr>
                ))}
                {s.heads.length === 0 && (
                  <tr>
                    <td colSpan={4}>no version seen yet</td>
                  </tr>
                )}
              </tbody>
            </table>
            <dl class="facts">
              <dt>fallback check</dt>
              <dd>{s.fallbackPollMs === null ? 'off' : `every ${duration(s.fallbackPollMs)}`}</dd>
              <dt>next check</dt>
              <dd title={isoTime(s.nextCheckAt)}>{when(s.nextCheckAt, now)}</dd>
              <dt>last check</dt>
              <dd>
                {when(s.lastCheckAt, now)}{' '}
                {s.lastCheckOk === false ? '✘ failed' : s.lastCheckOk ? '✔ ok' : ''}
              </dd>
              <dt>last error</dt>
              <dd>
                {s.lastError ?? 'none'}
                {s.pollFailures > 0 ? ` (${s.pollFailures} failures in a row)` : ''}
              </dd>
              <dt>events received</dt>
              <dd>
                {s.eventsReceived} (last {age === null ? 'never' : `${duration(age)} ago`})
              </dd>
              <dt>missed events</dt>
              <dd>
                {s.missedEvents} ({rate.toFixed(1)} % of versions found only by the fallback check)
              </dd>
            </dl>
            {(s.kind === 'git' || s.kind === 'http') && (
              <ActionButton
                label={`Check ${s.name} now`}
                run={() => post(`/api/sources/${encodeURIComponent(s.name)}/poll`)}
                done={() => {
                  res.reload();
                  return 'checked';
                }}
              />
            )}
          </section>
        );
      })}
    </>
  );
}
