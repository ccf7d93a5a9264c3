import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import type { Decision, Job, Source } from '../api-types.js';
import { ErrorNote, useApi } from '../components.js';
import { isoTime, short, when } from '../format.js';
import { useBuildEvents } from '../live.js';
import { navigate, type Loc } from '../router.js';

export function DecisionList({ decisions }: { decisions: readonly Decision[] }) {
  if (decisions.length === 0) return <p>No decisions recorded.</p>;
  return (
    <table class="data" aria-label="Decisions">
      <thead>
        <tr>
          <th scope="col">when</th>
          <th scope="col">rule</th>
          <th scope="col">job</th>
          <th scope="col">source @ version</th>
          <th scope="col">build</th>
          <th scope="col">why</th>
        </tr>
      </thead>
      <tbody>
        {decisions.map((d) => (
          <tr key={d.id}>
            <td title={isoTime(d.at)}>{when(d.at)}</td>
            <td>
              <code>{d.rule}</code>
            </td>
            <td>{d.job ? <a href={`/jobs/${encodeURIComponent(d.job)}`}>{d.job}</a> : '—'}</td>
            <td class="mono">
              {d.source ? `${d.source}${d.version ? ` @ ${short(d.version)}` : ''}` : '—'}
              {d.origin ? <span class="muted"> ({d.origin})</span> : null}
            </td>
            <td>{d.buildId ? <a href={`/builds/${d.buildId}`}>#{d.buildId}</a> : '—'}</td>
            <td>{d.detail}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The decision log, the "why" of the whole system: every scheduler decision about a job or a
 * source (`/api/why`), filterable by rule. Without a filter it merges the decisions about
 * every source, which covers every event the scheduler saw.
 */
export function DecisionsPage({ loc }: { loc: Loc }) {
  const job = loc.search.get('job') ?? '';
  const source = loc.search.get('source') ?? '';
  const rule = loc.search.get('rule') ?? '';
  const jobs = useApi<{ jobs: Job[] }>('/api/jobs');
  const sources = useApi<{ sources: Source[] }>('/api/sources');
  const [decisions, setDecisions] = useState<Decision[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useBuildEvents(() => setTick((t) => t + 1));

  useEffect(() => {
    const names =
      job || source ? [] : (sources.data?.sources ?? []).slice(0, 50).map((s) => s.name);
    const paths = job
      ? [`/api/why?job=${encodeURIComponent(job)}`]
      : source
        ? [`/api/why?source=${encodeURIComponent(source)}`]
        : names.map((s) => `/api/why?source=${encodeURIComponent(s)}`);
    if (paths.length === 0) return;
    let live = true;
    Promise.all(paths.map((p) => api<{ decisions: Decision[] }>(p))).then(
      (all) => {
        if (!live) return;
        const byId = new Map(all.flatMap((r) => r.decisions).map((d) => [d.id, d]));
        setDecisions([...byId.values()].sort((a, b) => b.id - a.id));
        setError(null);
      },
      (err: unknown) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [job, source, sources.data, tick]);

  const set = (key: string, value: string) => {
    const q = new URLSearchParams(loc.search);
    if (value) q.set(key, value);
    else q.delete(key);
    if (key === 'job' && value) q.delete('source');
    if (key === 'source' && value) q.delete('job');
    navigate(`/decisions${q.size ? `?${q.toString()}` : ''}`, { replace: true });
  };
  const rules = [...new Set((decisions ?? []).map((d) => d.rule))].sort();
  const shown = (decisions ?? []).filter((d) => !rule || d.rule === rule);

  return (
    <>
      <h1>Decisions</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Job{' '}
          <select value={job} onChange={(e) => set('job', e.currentTarget.value)}>
            <option value="">any</option>
            {(jobs.data?.jobs ?? []).map((j) => (
              <option key={j.name}>{j.name}</option>
            ))}
          </select>
        </label>
        <label>
          Source{' '}
          <select value={source} onChange={(e) => set('source', e.currentTarget.value)}>
            <option value="">any</option>
            {(sources.data?.sources ?? []).map((s) => (
              <option key={s.name}>{s.name}</option>
            ))}
          </select>
        </label>
        <label>
          Rule{' '}
          <select value={rule} onChange={(e) => set('rule', e.currentTarget.value)}>
            <option value="">any</option>
            {rules.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
      </form>
      {error ? <ErrorNote error={error} /> : null}
      {decisions === null ? <p aria-busy="true">Loading…</p> : <DecisionList decisions={shown} />}
    </>
  );
}
