import { useMemo, useState } from 'preact/hooks';
import type { Build, Job, Source } from '../api-types.js';
import { requestInfo, requestInputOf, RequestBadge, useRequests } from '../change-request.js';
import { ErrorNote, FailureBadge, Section, StateBadge, useApi, useNow } from '../components.js';
import { buildDuration, duration, short, when } from '../format.js';
import { useBuildEvents } from '../live.js';
import { layoutPipeline } from '../pipeline/graph-model.js';
import { GraphView } from '../pipeline/graph-view.js';

/**
 * Home: the pipeline graph with each job's latest build, and the newest builds. Both follow the
 * event stream without a reload: an event carries the whole build, so it replaces the job's
 * latest when it is that build or a newer one (reconciled by build id, never by arrival order).
 */
export function PipelinePage() {
  const jobsRes = useApi<{ jobs: Job[] }>('/api/jobs');
  const sourcesRes = useApi<{ sources: Source[] }>('/api/sources');
  const buildsRes = useApi<{ builds: Build[] }>('/api/builds?limit=25');
  const [live, setLive] = useState<ReadonlyMap<number, Build>>(new Map());
  const now = useNow();

  useBuildEvents((e) => {
    if (e.resync) {
      jobsRes.reload();
      buildsRes.reload();
      return;
    }
    setLive((m) => new Map(m).set(e.build.id, e.build));
  });

  const jobs = useMemo(() => {
    const map = new Map<string, Job>();
    for (const j of jobsRes.data?.jobs ?? []) map.set(j.name, j);
    for (const b of live.values()) {
      const j = map.get(b.job);
      if (j && (j.latest === null || b.id >= j.latest.id)) map.set(b.job, { ...j, latest: b });
    }
    return map;
  }, [jobsRes.data, live]);

  const builds = useMemo(() => {
    const byId = new Map<number, Build>();
    for (const b of buildsRes.data?.builds ?? []) byId.set(b.id, b);
    for (const b of live.values()) byId.set(b.id, b);
    return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, 25);
  }, [buildsRes.data, live]);

  const laid = useMemo(
    () =>
      jobsRes.data && sourcesRes.data
        ? layoutPipeline(jobsRes.data.jobs, sourcesRes.data.sources)
        : null,
    [jobsRes.data, sourcesRes.data],
  );

  return (
    <>
      <h1>Pipeline</h1>
      {(jobsRes.error ?? sourcesRes.error) ? (
        <ErrorNote error={jobsRes.error ?? sourcesRes.error} />
      ) : null}
      {laid ? (
        <GraphView laid={laid} jobs={jobs} now={now} />
      ) : (
        <p aria-busy="true">Loading the pipeline…</p>
      )}
      <Section title="Jobs">
        <table class="data" aria-label="Jobs">
          <thead>
            <tr>
              <th scope="col">job</th>
              <th scope="col">latest</th>
              <th scope="col">build</th>
              <th scope="col">running time</th>
              <th scope="col">queued</th>
            </tr>
          </thead>
          <tbody>
            {[...jobs.values()].map((j) => (
              <tr key={j.name} data-job-row={j.name}>
                <td>
                  <a href={`/jobs/${encodeURIComponent(j.name)}`}>{j.name}</a>
                </td>
                <td>
                  {j.latest ? (
                    <>
                      <StateBadge state={j.latest.state} />
                      <FailureBadge cls={j.latest.failureClass} />
                    </>
                  ) : (
                    'never built'
                  )}
                </td>
                <td>{j.latest ? <a href={`/builds/${j.latest.id}`}>#{j.latest.id}</a> : '—'}</td>
                <td>{j.latest ? duration(buildDuration(j.latest, now)) : '—'}</td>
                <td>
                  {j.latest?.state === 'queued' ? (
                    <span class="badge">
                      waiting {when(j.latest.queuedAt, now).replace(' ago', '')}
                    </span>
                  ) : (
                    ''
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Newest builds">
        {buildsRes.error ? <ErrorNote error={buildsRes.error} /> : null}
        <BuildTable builds={builds} now={now} showJob />
      </Section>
    </>
  );
}

export function BuildTable({
  builds,
  now,
  showJob,
}: {
  builds: readonly Build[];
  now: number;
  showJob?: boolean;
}) {
  const { requests } = useRequests(builds.some((b) => requestInputOf(b) !== null));
  if (builds.length === 0) return <p>No builds yet.</p>;
  return (
    <table class="data" aria-label="Builds">
      <thead>
        <tr>
          <th scope="col">build</th>
          {showJob && <th scope="col">job</th>}
          <th scope="col">state</th>
          <th scope="col">inputs</th>
          <th scope="col">cause</th>
          <th scope="col">duration</th>
          <th scope="col">coverage</th>
          <th scope="col">queued</th>
        </tr>
      </thead>
      <tbody>
        {builds.map((b) => (
          <tr key={b.id}>
            <td>
              <a href={`/builds/${b.id}`}>#{b.id}</a>
            </td>
            {showJob && (
              <td>
                <a href={`/jobs/${encodeURIComponent(b.job)}`}>{b.job}</a>
              </td>
            )}
            <td>
              <StateBadge state={b.state} />
              <FailureBadge cls={b.failureClass} />
            </td>
            <td>
              <span class="mono">
                {b.inputs.map((i) => `${i.source}@${short(i.version)}`).join(', ')}
              </span>
              <RequestCell b={b} requests={requests} />
            </td>
            <td>{causeText(b)}</td>
            <td>{duration(buildDuration(b, now))}</td>
            <td>{b.coverage?.lines == null ? '—' : `${b.coverage.lines.toFixed(1)} %`}</td>
            <td>{when(b.queuedAt, now)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function causeText(b: Build): string {
  const c = b.cause;
  switch (c.kind) {
    case 'version':
      return `new ${c.source} ${c.version.slice(0, 10)}`;
    case 'definition':
      return 'job definition changed';
    case 'manual':
      return c.rebuildOf !== undefined
        ? `rebuild of #${c.rebuildOf} by ${c.by ?? '?'}`
        : `${c.forced ? 'forced' : 'triggered'} by ${c.by ?? '?'}${c.pins?.length ? ` (${c.pins.length} pinned)` : ''}`;
    case 'retry':
      return `retry of #${c.previousBuild}`;
    case 'settled':
      return `quiet period (${duration(c.quietPeriodMs)}) settled`;
  }
}

function RequestCell({ b, requests }: { b: Build; requests: Parameters<typeof requestInfo>[1] }) {
  const info = requestInfo(b, requests);
  return info ? <RequestBadge info={info} /> : null;
}
