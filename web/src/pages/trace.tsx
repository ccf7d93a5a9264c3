import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import type {
  Build,
  ChangeRequest,
  ExpectedJob,
  Source,
  TraceNode,
  TraceResult,
} from '../api-types.js';
import { ErrorNote, StateBadge, useApi, useNow } from '../components.js';
import { buildDuration, duration, short, when } from '../format.js';
import { useBuildEvents } from '../live.js';
import { navigate, type Loc } from '../router.js';

/**
 * "Where is my change now?": a version's path through every downstream job, with states and
 * estimated finish times, refetched whenever a build changes. Without a source, the build that
 * used the version names it, so pasting a commit SHA prefix is enough.
 */
export function TracePage({ loc }: { loc: Loc }) {
  const version = loc.search.get('version') ?? '';
  const source = loc.search.get('source') ?? '';
  const sources = useApi<{ sources: Source[] }>('/api/sources');
  const [input, setInput] = useState(version);
  const [trace, setTrace] = useState<TraceResult | null>(null);
  const [request, setRequest] = useState<ChangeRequest | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const [waiting, setWaiting] = useState(false);
  const now = useNow();
  useBuildEvents(() => setTick((t) => t + 1));

  useEffect(() => setInput(version), [version]);
  useEffect(() => {
    if (!version) return;
    let live = true;
    (async () => {
      // Which source has this version: asked of the build list, which answers an unknown prefix
      // with an empty list rather than a 404, so a version not built yet is not an error.
      let name = source;
      let at = version;
      const req = await requestHead(version, source);
      if (live) setRequest(req);
      if (req) {
        name = req.source;
        at = req.headSha;
      } else if (!name) {
        const found = await api<{ builds: Build[] }>(
          `/api/builds?version=${encodeURIComponent(version)}&limit=1`,
        );
        const input = found.builds[0]?.inputs.find((i) => i.version.startsWith(version));
        if (!input) {
          if (live) {
            setTrace(null);
            setError(null);
            setWaiting(true);
          }
          return;
        }
        name = input.source;
      }
      const t = await api<TraceResult>(
        `/api/trace/${encodeURIComponent(name)}/${encodeURIComponent(at)}`,
      );
      if (live) {
        setTrace(t);
        setError(null);
        setWaiting(false);
      }
    })().catch((err: unknown) => live && setError(err));
    return () => {
      live = false;
    };
  }, [version, source, tick]);

  return (
    <>
      <h1>Trace</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const q = new URLSearchParams({ version: input.trim() });
          if (source) q.set('source', source);
          navigate(`/trace?${q.toString()}`);
        }}
      >
        <label>
          Version{' '}
          <input
            name="version"
            value={input}
            placeholder="commit SHA prefix, message version or pr/42"
            onInput={(e) => setInput(e.currentTarget.value)}
          />
        </label>
        <label>
          Source{' '}
          <select
            value={source}
            onChange={(e) => {
              const q = new URLSearchParams(loc.search);
              if (e.currentTarget.value) q.set('source', e.currentTarget.value);
              else q.delete('source');
              navigate(`/trace?${q.toString()}`, { replace: true });
            }}
          >
            <option value="">any</option>
            {(sources.data?.sources ?? []).map((s) => (
              <option key={s.name}>{s.name}</option>
            ))}
          </select>
        </label>
        <button type="submit">Trace</button>
      </form>
      {error ? <ErrorNote error={error} /> : null}
      {waiting && !trace && version && (
        <p role="status">
          No build used a version “{version}” yet; this page updates as soon as one does.
        </p>
      )}
      {trace && (
        <section aria-label="Trace result">
          <h2>
            {trace.source} @ <span class="mono">{short(trace.version)}</span>
          </h2>
          {request && (
            <p>
              {request.url ? (
                <a href={request.url} rel="noreferrer">
                  pr/{request.number}
                </a>
              ) : (
                `pr/${request.number}`
              )}{' '}
              “{request.title}” by {request.author} → {request.target}, at its current head
              {request.fork
                ? request.approved
                  ? ' · fork, approved'
                  : ' · fork, not approved'
                : ''}
            </p>
          )}
          {trace.nodes.length === 0 ? (
            <p>No build used this version yet.</p>
          ) : (
            <ul class="tree">
              {trace.nodes.map((n) => (
                <NodeItem key={n.build.id} n={n} now={now} />
              ))}
            </ul>
          )}
        </section>
      )}
    </>
  );
}

const REQUEST = /^(?:([^:@\s]+):)?pr\/([1-9][0-9]{0,9})$/;

/**
 * `pr/42` (or `app:pr/42`) → the change request, whose current head the trace follows (as
 * `nightless trace pr/42` does); `null` when the text is not a request. An unknown or ambiguous
 * request is an error that says so.
 */
async function requestHead(text: string, source: string): Promise<ChangeRequest | null> {
  const m = REQUEST.exec(text.trim());
  if (!m) return null;
  const from = m[1] ?? source;
  const number = Number(m[2]);
  const { requests } = await api<{ requests: ChangeRequest[] }>(
    `/api/requests${from ? `?source=${encodeURIComponent(from)}` : ''}`,
  );
  const found = requests.filter((r) => r.number === number);
  if (found.length === 0) throw new Error(`no change request pr/${number} is known`);
  if (found.length > 1)
    throw new Error(
      `pr/${number} exists in ${found.map((r) => r.source).join(', ')}: choose the source`,
    );
  return found[0] ?? null;
}

function NodeItem({ n, now }: { n: TraceNode; now: number }) {
  const b = n.build;
  return (
    <li data-trace-job={b.job}>
      <a href={`/builds/${b.id}`}>
        {b.job} #{b.id}
      </a>{' '}
      <StateBadge state={b.state} />{' '}
      <span class="muted">
        via {n.via.source} @ {short(n.via.version)} · {duration(buildDuration(b, now))}
      </span>
      {n.estimatedFinishAt !== null && (
        <span class="badge">ETA {when(n.estimatedFinishAt, now)}</span>
      )}
      {n.reused && (
        <span class="muted"> · output identical to #{n.reused.identicalOutputOf}: not rebuilt</span>
      )}
      {(n.children.length > 0 || n.expected.length > 0) && (
        <ul>
          {n.children.map((c) => (
            <NodeItem key={c.build.id} n={c} now={now} />
          ))}
          {n.expected.map((e) => (
            <ExpectedItem key={e.job} e={e} now={now} />
          ))}
        </ul>
      )}
    </li>
  );
}

function ExpectedItem({ e, now }: { e: ExpectedJob; now: number }) {
  return (
    <li data-trace-job={e.job}>
      {e.job} <span class="state state-queued">◌ expected</span>{' '}
      <span class="muted">via {e.via}</span>
      {e.estimatedFinishAt !== null && (
        <span class="badge">ETA {when(e.estimatedFinishAt, now)}</span>
      )}
      {e.expected.length > 0 && (
        <ul>
          {e.expected.map((x) => (
            <ExpectedItem key={x.job} e={x} now={now} />
          ))}
        </ul>
      )}
    </li>
  );
}
