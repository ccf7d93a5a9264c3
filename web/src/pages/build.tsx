import { useCallback, useState } from 'preact/hooks';
import { ActionButton, afterTrigger } from '../actions.js';
import { post } from '../api.js';
import type { Build, BuildDetail, Decision, Source, TriggerResult } from '../api-types.js';
import { requestInfo, requestInputOf, RequestPanel, useRequests } from '../change-request.js';
import { ErrorNote, FailureBadge, Section, StateBadge, useApi, useNow } from '../components.js';
import {
  buildDuration,
  delta,
  duration,
  FAILURE_CLASS,
  isoTime,
  pct,
  short,
  when,
} from '../format.js';
import { useBuildEvents } from '../live.js';
import type { Line } from '../log/log-chunks.js';
import { LogView } from '../log/log-view.js';
import { DownloadLink } from '../download-link.js';
import { DecisionList } from './decisions.js';
import { causeText } from './pipeline.js';

/** One build: what it used, why it exists, its steps, live log, outputs, coverage, relatives. */
export function BuildPage({ id, hash }: { id: number; hash: string }) {
  const res = useApi<{ build: BuildDetail }>(`/api/builds/${id}`);
  const sources = useApi<{ sources: Source[] }>('/api/sources');
  const b = res.data?.build;
  const why = useApi<{ decisions: Decision[] }>(
    b ? `/api/why?job=${encodeURIComponent(b.job)}` : null,
  );
  const related = useApi<{ builds: Build[] }>(
    b ? `/api/builds?job=${encodeURIComponent(b.job)}&limit=100` : null,
  );
  const requests = useRequests(b ? requestInputOf(b) !== null : false);
  const [steps, setSteps] = useState<Step[]>([]);
  const now = useNow();
  const reload = res.reload;
  useBuildEvents((e) => {
    if (e.resync || e.build.id === id) reload();
  });
  const onLines = useCallback((lines: readonly Line[]) => setSteps(stepsOf(lines)), []);
  const anchorMatch = /^log-(\d+)$/.exec(hash);
  const anchor = anchorMatch ? Number(anchorMatch[1]) : null;

  if (res.error && !b)
    return (
      <>
        <h1>Build #{id}</h1>
        <ErrorNote error={res.error} />
      </>
    );
  if (!b) return <p aria-busy="true">Loading build #{id}…</p>;
  const running = b.state === 'running' || b.state === 'queued';
  const mine = (why.data?.decisions ?? []).filter(
    (d) =>
      d.buildId === b.id || b.inputs.some((i) => i.eventId !== null && i.eventId === d.eventId),
  );
  const relatives = (related.data?.builds ?? []).filter(
    (o) =>
      o.id !== b.id &&
      (o.relatedBuild === b.id ||
        b.relatedBuild === o.id ||
        (o.cause.kind === 'retry' && o.cause.previousBuild === b.id) ||
        (b.cause.kind === 'retry' && b.cause.previousBuild === o.id) ||
        (o.cause.kind === 'manual' && o.cause.rebuildOf === b.id) ||
        (b.cause.kind === 'manual' && b.cause.rebuildOf === o.id)),
  );
  const sourceUrl = new Map((sources.data?.sources ?? []).map((s) => [s.name, s.url]));
  const request = requestInfo(b, requests.requests);

  return (
    <>
      <h1>
        Build #{b.id} of <a href={`/jobs/${encodeURIComponent(b.job)}`}>{b.job}</a>{' '}
        <StateBadge state={b.state} />
      </h1>
      <p>
        {causeText(b)} · queued {when(b.queuedAt, now)} ·{' '}
        {b.startedAt ? `ran ${duration(buildDuration(b, now))}` : 'not started'}
        {b.reason ? (
          <>
            {' '}
            · <strong>{b.reason}</strong>
          </>
        ) : null}
        {b.attempt > 1 ? ` · attempt ${b.attempt}` : ''}
      </p>
      {b.failureClass && (
        <p data-testid="failure-class">
          Whose failure: <FailureBadge cls={b.failureClass} /> —{' '}
          {FAILURE_CLASS[b.failureClass].means}
        </p>
      )}
      <div class="actions">
        {running && (
          <ActionButton
            label="Cancel"
            danger
            run={() => post<{ build: Build }>(`/api/builds/${b.id}/cancel`)}
            done={(r) => {
              reload();
              return `build is ${r.build.state}`;
            }}
          />
        )}
        {!running && (
          <ActionButton
            label="Rebuild"
            run={() => post<TriggerResult>(`/api/builds/${b.id}/rebuild`, { by: 'dashboard' })}
            done={afterTrigger}
          />
        )}
      </div>
      {request && (
        <Section title="Change request">
          <RequestPanel info={request} onApproved={requests.reload} />
        </Section>
      )}
      <Section title="Inputs">
        <ul>
          {b.inputs.map((i) => (
            <li key={i.source}>
              <strong>{i.source}</strong>
              {i.ref ? ` (${i.ref})` : ''}:{' '}
              <VersionLink url={sourceUrl.get(i.source) ?? null} version={i.version} />{' '}
              {i.origin ? <span class="muted">via {i.origin}</span> : null}{' '}
              <a
                href={`/trace?source=${encodeURIComponent(i.source)}&version=${encodeURIComponent(i.version)}`}
              >
                trace
              </a>
            </li>
          ))}
          {b.inputs.length === 0 && <li>none</li>}
        </ul>
      </Section>
      {relatives.length > 0 || b.relatedBuild !== null ? (
        <Section title="Related builds">
          <ul>
            {b.relatedBuild !== null && (
              <li>
                {relatedLabel(b, related.data?.builds ?? [])}{' '}
                <a href={`/builds/${b.relatedBuild}`}>#{b.relatedBuild}</a>
              </li>
            )}
            {relatives
              .filter((o) => o.id !== b.relatedBuild)
              .map((o) => (
                <li key={o.id}>
                  {relation(b, o)} <a href={`/builds/${o.id}`}>#{o.id}</a>{' '}
                  <StateBadge state={o.state} />
                  <FailureBadge cls={o.failureClass} />
                </li>
              ))}
          </ul>
        </Section>
      ) : null}
      <Section title="Steps">
        {steps.length === 0 ? (
          <p>No steps in the loaded log yet.</p>
        ) : (
          <ol class="steps">
            {steps.map((s) => (
              <li key={s.offset}>
                <a href={`#log-${s.offset}`}>{s.name}</a> —{' '}
                {s.exit === null ? (running ? 'running' : 'no exit recorded') : `exit ${s.exit}`} ·{' '}
                {s.took ??
                  duration(s.end === null ? (running ? now - s.start : null) : s.end - s.start)}
              </li>
            ))}
          </ol>
        )}
      </Section>
      <Section title="Log">
        <LogView
          key={b.id}
          buildId={b.id}
          running={running}
          size={b.logBytes}
          anchor={anchor}
          onLines={onLines}
          onEnd={reload}
        />
      </Section>
      <Section title="Outputs">
        {b.outputs.length === 0 ? (
          <p>none</p>
        ) : (
          <ul>
            {b.outputs.map((o) => (
              <li key={o.name}>
                <strong>{o.name}</strong> <span class="mono">output digest {short(o.digest)}…</span>
                <ul>
                  {o.files.map((f) => (
                    <li key={f.path}>
                      <DownloadLink
                        href={`/api/builds/${b.id}/artifacts/${encodeURIComponent(o.name)}${o.files.length > 1 ? `?path=${encodeURIComponent(f.path)}` : ''}`}
                        name={f.path.split('/').pop() ?? f.path}
                      >
                        {f.path}
                      </DownloadLink>{' '}
                      <span class="mono">sha256 {f.digest}</span> · {f.size} bytes
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Coverage">
        {b.coverage ? (
          <p>
            lines {pct(b.coverage.lines)}{' '}
            {delta(b.coverage.linesDelta) && `(${delta(b.coverage.linesDelta)})`} · branches{' '}
            {pct(b.coverage.branches)}{' '}
            {delta(b.coverage.branchesDelta) && `(${delta(b.coverage.branchesDelta)})`}
          </p>
        ) : (
          <p>none reported</p>
        )}
      </Section>
      <Section title="Why">
        <DecisionList decisions={mine} />
      </Section>
      <p class="muted mono">
        fingerprint {b.fingerprint} · definition {short(b.definitionHash)} · worker{' '}
        {b.worker ?? '—'} · queued {isoTime(b.queuedAt)} ·{' '}
        <a href={b.url} rel="noreferrer" data-permalink>
          link to share
        </a>{' '}
        · <a href={b.apiUrl}>as JSON</a>
      </p>
      {b.warnings.length > 0 && (
        <Section title="Warnings">
          <ul>
            {b.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Section>
      )}
    </>
  );
}

/** What `b.relatedBuild` is to `b`: a retry links both builds through it (`queue-retry.ts`). */
function relatedLabel(b: Build, others: readonly Build[]): string {
  if (b.state === 'superseded') return 'superseded by';
  if (b.state === 'skipped') return 'identical to';
  const o = others.find((x) => x.id === b.relatedBuild);
  if (o) return relation(b, o);
  if (b.cause.kind === 'retry' && b.cause.previousBuild === b.relatedBuild) return 'retry of';
  return 'related to';
}

function relation(b: Build, o: Build): string {
  // Retries first: a retry and its first attempt point at each other through `relatedBuild` too.
  if (o.cause.kind === 'retry' && o.cause.previousBuild === b.id) return 'retried as';
  if (b.cause.kind === 'retry' && b.cause.previousBuild === o.id) return 'retry of';
  if (o.relatedBuild === b.id)
    return o.state === 'superseded' ? 'superseded' : 'identical (skipped)';
  if (o.cause.kind === 'manual' && o.cause.rebuildOf === b.id) return 'rebuilt as';
  return 'rebuild of';
}

/** A commit link when the source is a web forge we know how to link to. */
function VersionLink({ url, version }: { url: string | null; version: string }) {
  const forge = url
    ? /^https:\/\/(github\.com|gitlab\.com|codeberg\.org|[^/]*gitea[^/]*)\/(.+?)(\.git)?$/.exec(url)
    : null;
  if (forge && /^[0-9a-f]{40}$/.test(version)) {
    const path = forge[1] === 'gitlab.com' ? '/-/commit/' : '/commit/';
    return (
      <a class="mono" href={`https://${forge[1]}/${forge[2]}${path}${version}`} rel="noreferrer">
        {short(version)}
      </a>
    );
  }
  return (
    <span class="mono" title={version}>
      {short(version)}
    </span>
  );
}

interface Step {
  readonly name: string;
  readonly offset: number;
  readonly start: number;
  readonly end: number | null;
  readonly exit: number | null;
  readonly took: string | null;
}

/** Steps from the executor's `==> step "x" (i/n)` and `<== exit N in T` lines. */
function stepsOf(lines: readonly Line[]): Step[] {
  const out: Step[] = [];
  for (const l of lines) {
    if (l.stream !== 'system') continue;
    const start = /^==> step (.+) \(\d+\/\d+\)$/.exec(l.text);
    if (start) {
      out.push({
        name: start[1]?.replace(/^"|"$/g, '') ?? '?',
        offset: l.offset,
        start: l.ts,
        end: null,
        exit: null,
        took: null,
      });
      continue;
    }
    const end = /^<== exit (-?\d+).* in (.+)$/.exec(l.text);
    const open = out[out.length - 1];
    if (end && open && open.end === null)
      out[out.length - 1] = { ...open, end: l.ts, exit: Number(end[1]), took: end[2] ?? null };
  }
  return out;
}
