import { useEffect, useRef } from 'preact/hooks';
import type { Slo } from '../api-types.js';
import { ErrorNote, useApi } from '../components.js';
import { useBuildEvents } from '../live.js';

/** At most one refetch per this long however many builds change: a burst costs one request. */
const THROTTLE_MS = 1000;
/** Burn rates move with the clock (windows slide) even when no build changes. */
const REFRESH_MS = 30_000;

const STATUS: Readonly<Record<Slo['status'], [icon: string, means: string]>> = {
  ok: ['✔', 'within budget'],
  burning: ['⚠', 'spending the error budget faster than it lasts'],
  exhausted: ['✘', 'the error budget is spent'],
};

/**
 * The pipeline's SLOs (`GET /api/slos`): attainment, remaining error budget, burn rates and
 * status. Refetched, throttled, when a build changes and every
 * 30 s; the server evaluates from counters, so a refetch is cheap.
 */
export function SlosPage() {
  const res = useApi<{ slos: Slo[] }>('/api/slos');
  const reload = useTrailing(res.reload, THROTTLE_MS);
  // Any build event may move a figure: a start (start latency) as much as an ending.
  useBuildEvents(reload);
  useEffect(() => {
    const t = setInterval(res.reload, REFRESH_MS);
    return () => clearInterval(t);
  }, [res.reload]);
  const slos = res.data?.slos;
  return (
    <>
      <h1>SLOs</h1>
      <p class="muted">
        The pipeline run as a service: each objective over its rolling window, its error budget and
        how fast it burns (fast: 1 h / 5 min, slow: 6 h / 30 min unless the pipeline says
        otherwise). See docs/slo.md for what to do when a budget burns.
      </p>
      {res.error ? <ErrorNote error={res.error} /> : null}
      {!slos && !res.error && <p aria-busy="true">Loading SLOs…</p>}
      {slos && slos.length === 0 && (
        <p>
          This pipeline declares no SLOs: add <code>slos:</code> to the pipeline file.
        </p>
      )}
      {slos && slos.length > 0 && (
        // A section scrolls sideways on a phone instead of the page (styles.css);
        // tabIndex: a region that scrolls must be reachable with the keyboard (axe).
        <section aria-label="Objectives" tabIndex={0}>
          <table class="data" aria-label="SLOs">
            <thead>
              <tr>
                <th scope="col">SLO</th>
                <th scope="col">status</th>
                <th scope="col">attainment</th>
                <th scope="col">objective</th>
                <th scope="col">budget left</th>
                <th scope="col">burn rate fast (long / short)</th>
                <th scope="col">burn rate slow (long / short)</th>
                <th scope="col">good / bad</th>
              </tr>
            </thead>
            <tbody>
              {slos.map((s) => (
                <tr key={s.name} data-slo={s.name}>
                  <th scope="row">
                    {s.name}
                    <div class="muted">
                      {s.indicator} over {windowText(s.windowMs)}
                    </div>
                  </th>
                  <td>
                    <SloStatus s={s} />
                  </td>
                  <td>{percent(s.attainment)}</td>
                  <td>{percent(s.objective)}</td>
                  <td>
                    {s.remainingShare === null ? '—' : percent(s.remainingShare)}
                    <div class="muted">{events(s.remainingEvents)}</div>
                  </td>
                  <td>
                    {rate(s.burnRates.fastLong)} / {rate(s.burnRates.fastShort)}
                    {s.fastBurn ? <div>alert</div> : null}
                  </td>
                  <td>
                    {rate(s.burnRates.slowLong)} / {rate(s.burnRates.slowShort)}
                    {s.slowBurn ? <div>alert</div> : null}
                  </td>
                  <td>
                    {s.good} / {s.bad}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}

function SloStatus({ s }: { s: Slo }) {
  const [icon, means] = STATUS[s.status];
  return (
    <span class={`slo-status slo-${s.status}`} title={means}>
      <span aria-hidden="true">{icon}</span> {s.status}
    </span>
  );
}

/** A window in its largest whole unit: `28 d`, `1 h`, `90 min`. */
function windowText(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${Math.round(ms / 1000)} s`;
}

function percent(share: number): string {
  const p = share * 100;
  return `${p >= 99.95 && p < 100 ? p.toFixed(2) : p.toFixed(1)} %`;
}

function rate(r: number | null): string {
  return r === null ? '∞' : `${r.toFixed(1)}×`;
}

function events(n: number): string {
  const rounded = Math.round(n * 10) / 10;
  return n < 0 ? `overspent by ${-rounded} events` : `${rounded} bad events left`;
}

/**
 * `fn` once, `ms` after the first call of a burst; calls in between fold into that one. Trailing
 * on purpose: the SSE event can reach the page before the server's SLO counters have counted the
 * build, so an immediate refetch could show the figures from just before it.
 */
function useTrailing(fn: () => void, ms: number): () => void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return () => {
    timer.current ??= setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  };
}
