import type { BuildState, FailureClass } from './api-types.js';

/** State as icon + word: colour is never the only signal. */
export const STATE_ICON: Readonly<Record<BuildState, string>> = {
  queued: '◌',
  running: '◐',
  passed: '✔',
  failed: '✘',
  error: '⚠',
  cancelled: '⊘',
  superseded: '↷',
  skipped: '⇢',
};

/** Whose failure a build is, as icon + word + what it means (issue 16, docs/slo.md). */
export const FAILURE_CLASS: Readonly<Record<FailureClass, { icon: string; means: string }>> = {
  user: { icon: '✎', means: 'a step said no (exited non-zero): the change, not nightless' },
  timeout: { icon: '⏱', means: 'a job, step or no-output timeout ended it' },
  network: { icon: '⇌', means: "one of nightless's own network operations failed" },
  infrastructure: {
    icon: '⚙',
    means: 'nightless or the machine failed: lost, disk, spawn, killed',
  },
  cancelled: { icon: '⊘', means: 'someone or something cancelled it' },
  superseded: { icon: '↷', means: 'a newer input set replaced it before it ran' },
};

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function buildDuration(
  b: { startedAt: number | null; finishedAt: number | null },
  now: number,
): number | null {
  if (b.startedAt === null) return null;
  return (b.finishedAt ?? now) - b.startedAt;
}

export function when(at: number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return '—';
  const d = at - now;
  const abs = Math.abs(d);
  const rel =
    abs < 60_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 86_400_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return d >= 0 ? `in ${rel}` : `${rel} ago`;
}

export function isoTime(at: number | null | undefined): string {
  return at === null || at === undefined ? '' : new Date(at).toISOString();
}

export function short(version: string): string {
  return /^[0-9a-f]{40,64}$/.test(version) ? version.slice(0, 10) : version;
}

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${v.toFixed(1)} %`;
}

export function delta(v: number | null | undefined): string {
  if (v === null || v === undefined) return '';
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;
}
