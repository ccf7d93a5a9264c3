import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Job } from '../api-types.js';
import { buildDuration, duration, FAILURE_CLASS, STATE_ICON } from '../format.js';
import type { GraphNode, Laid } from './graph-model.js';

interface View {
  readonly scale: number;
  readonly x: number;
  readonly y: number;
}

const MIN_SCALE = 0.1;
const MAX_SCALE = 3;

/**
 * The pipeline graph as SVG: every job a link (Tab reaches it, Enter opens it), drag to pan,
 * wheel or the buttons to zoom, search to find a job among hundreds.
 */
export function GraphView({
  laid,
  jobs,
  now,
}: {
  laid: Laid;
  jobs: ReadonlyMap<string, Job>;
  now: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState<View>({ scale: 1, x: 0, y: 0 });
  const [query, setQuery] = useState('');
  const drag = useRef<{ px: number; py: number; x: number; y: number; moved: boolean } | null>(
    null,
  );

  const fit = () => {
    const el = box.current;
    if (!el || laid.width === 0) return;
    const scale = Math.max(MIN_SCALE, Math.min(1, el.clientWidth / laid.width, 520 / laid.height));
    setView({ scale, x: (el.clientWidth - laid.width * scale) / 2, y: 0 });
  };
  useEffect(fit, [laid]);

  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    return q === ''
      ? null
      : new Set(laid.nodes.filter((n) => n.label.toLowerCase().includes(q)).map((n) => n.id));
  }, [query, laid]);

  const centerOn = (n: GraphNode) => {
    const el = box.current;
    if (!el) return;
    const scale = Math.max(view.scale, 0.8);
    setView({ scale, x: el.clientWidth / 2 - n.x * scale, y: el.clientHeight / 2 - n.y * scale });
  };

  const zoom = (factor: number, cx?: number, cy?: number) => {
    const el = box.current;
    if (!el) return;
    const px = cx ?? el.clientWidth / 2;
    const py = cy ?? el.clientHeight / 2;
    setView((v) => {
      const scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, v.scale * factor));
      const k = scale / v.scale;
      return { scale, x: px - (px - v.x) * k, y: py - (py - v.y) * k };
    });
  };

  return (
    <div class="graph">
      <div class="graph-tools" role="toolbar" aria-label="Graph">
        <label>
          <span class="sr-only">Find a job or source</span>
          <input
            type="search"
            placeholder="Find a job…"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key !== 'Enter' || !matches) return;
              const first = laid.nodes.find((n) => matches.has(n.id));
              if (first) centerOn(first);
            }}
          />
        </label>
        {matches && <span aria-live="polite">{matches.size} found</span>}
        <button type="button" onClick={() => zoom(1.25)} aria-label="Zoom in">
          +
        </button>
        <button type="button" onClick={() => zoom(0.8)} aria-label="Zoom out">
          −
        </button>
        <button type="button" onClick={fit}>
          Fit
        </button>
      </div>
      <div
        ref={box}
        class="graph-canvas"
        onWheel={(e) => {
          e.preventDefault();
          const r = e.currentTarget.getBoundingClientRect();
          zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX - r.left, e.clientY - r.top);
        }}
        onPointerDown={(e) => {
          drag.current = { px: e.clientX, py: e.clientY, x: view.x, y: view.y, moved: false };
        }}
        onPointerMove={(e) => {
          const d = drag.current;
          if (!d || e.buttons !== 1) return;
          if (Math.abs(e.clientX - d.px) + Math.abs(e.clientY - d.py) > 4) d.moved = true;
          if (d.moved)
            setView((v) => ({ ...v, x: d.x + e.clientX - d.px, y: d.y + e.clientY - d.py }));
        }}
        onPointerUp={() => setTimeout(() => (drag.current = null), 0)}
        onClickCapture={(e) => {
          // The end of a drag is not a click on the node under the pointer.
          if (drag.current?.moved) e.preventDefault();
        }}
      >
        <svg width="100%" height="100%" role="group" aria-label="Pipeline graph">
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 8 8"
              refX="8"
              refY="4"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0,0 L8,4 L0,8 z" class="edge-head" />
            </marker>
          </defs>
          <g transform={`translate(${view.x},${view.y}) scale(${view.scale})`}>
            {laid.edges.map((e) => (
              <polyline
                key={`${e.from}>${e.to}`}
                class="edge"
                points={e.points.map((p) => `${p.x},${p.y}`).join(' ')}
                marker-end="url(#arrow)"
              />
            ))}
            {laid.nodes.map((n) => (
              <NodeShape
                key={n.id}
                n={n}
                job={jobs.get(n.label)}
                now={now}
                dim={matches !== null && !matches.has(n.id)}
              />
            ))}
          </g>
        </svg>
      </div>
    </div>
  );
}

function NodeShape({
  n,
  job,
  now,
  dim,
}: {
  n: GraphNode;
  job: Job | undefined;
  now: number;
  dim: boolean;
}) {
  const x = n.x - n.width / 2;
  const y = n.y - n.height / 2;
  const cls = `node node-${n.kind}${dim ? ' dim' : ''}`;
  if (n.kind !== 'job') {
    const href = n.kind === 'source' ? `/sources#${n.label}` : null;
    const body = (
      <g class={cls}>
        <rect x={x} y={y} width={n.width} height={n.height} rx={n.kind === 'source' ? 20 : 4} />
        <text x={n.x} y={n.y + 4} text-anchor="middle">
          {n.kind === 'output' ? `⬚ ${n.label}` : `⎇ ${n.label}`}
        </text>
      </g>
    );
    return href ? <a href={href}>{body}</a> : body;
  }
  const latest = job?.latest ?? null;
  const state = latest?.state;
  const took = latest ? duration(buildDuration(latest, now)) : '';
  const summary = latest
    ? `${STATE_ICON[latest.state]} ${latest.state} · #${latest.id} · ${took}`
    : 'never built';
  const fc = latest?.failureClass ?? null;
  // The tooltip says whose failure it is: the node has room for the state, not the class too.
  const tooltip = `${n.label}: ${summary}${fc ? ` · failure: ${FAILURE_CLASS[fc].icon} ${fc} (${FAILURE_CLASS[fc].means})` : ''}`;
  return (
    <a href={`/jobs/${encodeURIComponent(n.label)}`} data-job={n.label}>
      <g class={`${cls} ${state ? `state-${state}` : ''}`}>
        <title>{tooltip}</title>
        <rect x={x} y={y} width={n.width} height={n.height} rx={6} />
        <text x={x + 10} y={y + 22} class="node-title">
          {n.label}
        </text>
        <text x={x + 10} y={y + 44} class="node-state">
          {summary}
        </text>
        {state === 'queued' && (
          <text x={x + n.width - 8} y={y + 16} text-anchor="end" class="badge-text">
            waiting
          </text>
        )}
      </g>
    </a>
  );
}
