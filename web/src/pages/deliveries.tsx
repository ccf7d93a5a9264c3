import { ActionButton } from '../actions.js';
import { post } from '../api.js';
import type { Delivery, ReportTarget } from '../api-types.js';
import { ErrorNote, useApi, useNow } from '../components.js';
import { isoTime, when } from '../format.js';

/** Report targets' health (how far behind, dead deliveries) and retrying a dead one. */
export function DeliveriesPage() {
  const res = useApi<{ deliveries: Delivery[]; targets: ReportTarget[] }>(
    '/api/deliveries?limit=100',
  );
  const dead = useApi<{ deliveries: Delivery[] }>('/api/deliveries?state=dead&limit=100');
  const now = useNow(5000);
  const deadCount = (t: string) =>
    (dead.data?.deliveries ?? []).filter((d) => d.target === t).length;
  return (
    <>
      <h1>Deliveries</h1>
      {res.error ? <ErrorNote error={res.error} /> : null}
      <h2>Report targets</h2>
      {res.data && res.data.targets.length === 0 && (
        <p>No report targets configured (`reports:` in the pipeline).</p>
      )}
      <table class="data" aria-label="Report targets">
        <thead>
          <tr>
            <th scope="col">target</th>
            <th scope="col">kind</th>
            <th scope="col">health</th>
            <th scope="col">behind by</th>
            <th scope="col">dead</th>
            <th scope="col">last error</th>
          </tr>
        </thead>
        <tbody>
          {res.data?.targets.map((t) => {
            const healthy = t.behind === 0 && deadCount(t.target) === 0 && t.lastError === null;
            return (
              <tr key={t.target}>
                <td>{t.description ?? t.target}</td>
                <td>
                  {t.kind}
                  {t.active ? '' : ' (removed)'}
                </td>
                <td>{healthy ? '✔ healthy' : '⚠ needs attention'}</td>
                <td>
                  {t.behind} event{t.behind === 1 ? '' : 's'}
                </td>
                <td>{deadCount(t.target)}</td>
                <td>{t.lastError ?? '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2>Recent deliveries</h2>
      <table class="data" aria-label="Deliveries">
        <thead>
          <tr>
            <th scope="col">id</th>
            <th scope="col">target</th>
            <th scope="col">event</th>
            <th scope="col">state</th>
            <th scope="col">attempts</th>
            <th scope="col">next attempt</th>
            <th scope="col">error</th>
            <th scope="col">
              <span class="sr-only">actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {res.data?.deliveries.map((d) => (
            <tr key={d.id}>
              <td>{d.id}</td>
              <td>{d.target}</td>
              <td>
                {d.type} of <a href={`/builds/${d.buildId}`}>#{d.buildId}</a>
              </td>
              <td>
                {d.state === 'dead'
                  ? '✘ dead'
                  : d.state === 'delivered'
                    ? '✔ delivered'
                    : '◌ pending'}
              </td>
              <td>{d.attempts}</td>
              <td title={isoTime(d.nextAttemptAt)}>{when(d.nextAttemptAt, now)}</td>
              <td>{d.lastError ?? '—'}</td>
              <td>
                {d.state === 'dead' && (
                  <ActionButton
                    label="Retry"
                    run={() => post(`/api/deliveries/${d.id}/retry`)}
                    done={() => {
                      res.reload();
                      dead.reload();
                      return 'queued again';
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
