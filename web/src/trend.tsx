import type { Build } from './api-types.js';
import { duration } from './format.js';

/**
 * A small line chart of one figure over a job's builds, oldest left. Drawn as SVG with a text
 * summary beside it, so the numbers are there for screen readers and at a glance.
 */
export function Trend({
  title,
  builds,
  value,
  format,
}: {
  title: string;
  builds: readonly Build[];
  value: (b: Build) => number | null;
  format: (v: number) => string;
}) {
  const points = [...builds]
    .reverse()
    .map((b) => ({ id: b.id, v: value(b) }))
    .filter((p): p is { id: number; v: number } => p.v !== null);
  if (points.length === 0)
    return (
      <figure class="trend">
        <figcaption>{title}: no data yet</figcaption>
      </figure>
    );
  const max = Math.max(...points.map((p) => p.v), 1e-9);
  const min = Math.min(...points.map((p) => p.v), 0);
  const w = 300;
  const h = 60;
  const step = points.length > 1 ? w / (points.length - 1) : 0;
  const y = (v: number) => h - ((v - min) / (max - min || 1)) * (h - 6) - 3;
  const last = points[points.length - 1];
  return (
    <figure class="trend">
      <svg viewBox={`0 0 ${w} ${h}`} width={w} height={h} aria-hidden="true">
        <polyline points={points.map((p, i) => `${i * step},${y(p.v)}`).join(' ')} />
      </svg>
      <figcaption>
        {title}: last {last ? format(last.v) : '—'}, min{' '}
        {format(Math.min(...points.map((p) => p.v)))}, max {format(max)} over {points.length} builds
      </figcaption>
    </figure>
  );
}

export const formatDuration = (v: number) => duration(v);
export const formatPercent = (v: number) => `${v.toFixed(1)} %`;
