import { useMemo, useState } from 'preact/hooks';
import { ActionButton, afterTrigger, trigger } from '../actions.js';
import type { Build, Job } from '../api-types.js';
import { ErrorNote, FailureBadge, Section, StateBadge, useApi, useNow } from '../components.js';
import { useBuildEvents } from '../live.js';
import { Trend, formatDuration, formatPercent } from '../trend.js';
import { BuildTable } from './pipeline.js';

/** One job: actions, trends and its build history (live). */
export function JobPage({ name }: { name: string }) {
  const jobs = useApi<{ jobs: Job[] }>('/api/jobs');
  const [before, setBefore] = useState<number | null>(null);
  const history = useApi<{ builds: Build[]; next: number | null }>(
    `/api/builds?job=${encodeURIComponent(name)}&limit=50${before ? `&before=${before}` : ''}`,
  );
  const [live, setLive] = useState<ReadonlyMap<number, Build>>(new Map());
  const [pins, setPins] = useState<Record<string, string>>({});
  const now = useNow();
  useBuildEvents((e) => {
    if (e.resync) return history.reload();
    if (e.build.job === name) setLive((m) => new Map(m).set(e.build.id, e.build));
  });
  const job = jobs.data?.jobs.find((j) => j.name === name);
  const builds = useMemo(() => {
    const byId = new Map((history.data?.builds ?? []).map((b) => [b.id, b]));
    if (before === null) for (const b of live.values()) byId.set(b.id, b);
    return [...byId.values()].sort((a, b) => b.id - a.id);
  }, [history.data, live, before]);
  const pinned = Object.fromEntries(Object.entries(pins).filter(([, v]) => v.trim() !== ''));

  return (
    <>
      <h1>Job {name}</h1>
      {jobs.data && !job ? (
        <p class="error" role="alert">
          No job “{name}” in the pipeline.
        </p>
      ) : null}
      {jobs.error ? <ErrorNote error={jobs.error} /> : null}
      {job && (
        <p>
          inputs: {job.inputs.join(', ') || 'none'} · {job.steps} step{job.steps === 1 ? '' : 's'} ·
          outputs: {job.outputs.join(', ') || 'none'} · latest:{' '}
          {builds[0] ? (
            <>
              <StateBadge state={builds[0].state} />
              <FailureBadge cls={builds[0].failureClass} />
            </>
          ) : (
            'never built'
          )}
        </p>
      )}
      <Section title="Actions">
        <div class="actions">
          <ActionButton label="Trigger" run={() => trigger(name, {})} done={afterTrigger} />
          <ActionButton
            label="Force"
            run={() => trigger(name, { force: true })}
            done={afterTrigger}
          />
          {builds[0] && <a href={`/builds/${builds[0].id}`}>Rebuild the latest from its page</a>}
        </div>
        {job && job.inputs.length > 0 && (
          <details>
            <summary>Trigger with pinned inputs</summary>
            <form onSubmit={(e) => e.preventDefault()} class="pins">
              {job.inputs.map((i) => (
                <label key={i}>
                  {i} version (or unique prefix)
                  <input
                    value={pins[i] ?? ''}
                    onInput={(e) => setPins({ ...pins, [i]: e.currentTarget.value })}
                  />
                </label>
              ))}
              <ActionButton
                label="Trigger pinned"
                run={() => trigger(name, { force: true, inputs: pinned })}
                done={afterTrigger}
              />
            </form>
          </details>
        )}
      </Section>
      <Section title="Trends">
        <div class="trends">
          <Trend
            title="Duration"
            builds={builds.filter((b) => b.finishedAt !== null)}
            value={(b) => (b.startedAt && b.finishedAt ? b.finishedAt - b.startedAt : null)}
            format={formatDuration}
          />
          <Trend
            title="Line coverage"
            builds={builds}
            value={(b) => b.coverage?.lines ?? null}
            format={formatPercent}
          />
        </div>
      </Section>
      <Section title="History">
        {history.error ? <ErrorNote error={history.error} /> : null}
        <BuildTable builds={builds} now={now} />
        <p class="pager">
          {before !== null && (
            <button type="button" onClick={() => setBefore(null)}>
              Newest
            </button>
          )}
          {history.data?.next ? (
            <button type="button" onClick={() => setBefore(history.data?.next ?? null)}>
              Older
            </button>
          ) : null}
        </p>
      </Section>
    </>
  );
}
