import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LogLine } from '../api-types.js';
import { ErrorNote } from '../components.js';
import { navigate } from '../router.js';
import { openStream } from '../sse-client.js';
import { ansiSpans } from './ansi.js';
import {
  CHUNK,
  downloadRaw,
  lastChunkIndex,
  loadChunk,
  storedLength,
  type Chunk,
  type Line,
} from './log-chunks.js';

const ROW = 18;
/** Loaded chunks kept around the view; more are dropped from the far side. */
const KEEP = 4;

export interface LogViewProps {
  readonly buildId: number;
  readonly running: boolean;
  readonly size: number;
  /** `log-<offset>` from the URL hash: the line to show and highlight. */
  readonly anchor: number | null;
  readonly onLines?: (lines: readonly Line[]) => void;
  readonly onEnd?: () => void;
}

/**
 * The build log, windowed: only the lines in view are in the DOM, only a few 512 KiB chunks are
 * in memory, and any chunk is fetched by byte offset — so a 100 MB log opens at its end as fast
 * as a small one. Follow mode appends lines from the live stream and keeps the end in view.
 */
export function LogView({ buildId, running, size, anchor, onLines, onEnd }: LogViewProps) {
  const [chunks, setChunks] = useState<Chunk[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [follow, setFollow] = useState(running && anchor === null);
  const [query, setQuery] = useState('');
  const [hit, setHit] = useState(-1);
  const [scrollTop, setScrollTop] = useState(0);
  const [progress, setProgress] = useState<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const pendingScroll = useRef<{ to: 'end' } | { offset: number } | { adjust: number } | null>(
    null,
  );
  const loading = useRef(false);
  const total = Math.max(size, chunks[chunks.length - 1]?.end ?? 0);
  const lines = useMemo(() => chunks.flatMap((c) => c.lines), [chunks]);
  useEffect(() => onLines?.(lines), [lines, onLines]);

  const openAt = useCallback(
    async (index: number, scroll: { to: 'end' } | { offset: number }) => {
      loading.current = true;
      try {
        const first = index === 0 && size <= 2 * CHUNK ? [0, lastChunkIndex(size)] : [index, index];
        const loaded: Chunk[] = [];
        for (let i = first[0] ?? 0; i <= (first[1] ?? 0); i++) {
          const prev = loaded[loaded.length - 1];
          loaded.push(await loadChunk(buildId, i, prev?.lines.length ? prev.end : undefined));
        }
        pendingScroll.current = scroll;
        setChunks(loaded);
        setError(null);
      } catch (err) {
        setError(err);
      } finally {
        loading.current = false;
      }
    },
    [buildId, size],
  );

  useEffect(() => {
    if (anchor !== null) void openAt(Math.floor(anchor / CHUNK), { offset: anchor });
    else if (size <= 2 * CHUNK && !running) void openAt(0, { offset: 0 });
    else void openAt(lastChunkIndex(size), { to: 'end' });
    // Opening again on every size change would jump around; follow mode appends instead.
  }, [buildId, anchor]);

  // Live lines: from the end of what is loaded, only while following the tail.
  const tailEnd = chunks[chunks.length - 1]?.end ?? null;
  const atTail =
    chunks.length > 0 && lastChunkIndex(total) <= (chunks[chunks.length - 1]?.index ?? -1);
  const streaming = running && atTail && tailEnd !== null;
  const tailRef = useRef(tailEnd);
  tailRef.current = tailEnd;
  useEffect(() => {
    if (!streaming || tailRef.current === null) return;
    let offset = tailRef.current;
    return openStream(`/api/builds/${buildId}/log?follow=1&offset=${offset}`, {
      once: true,
      onMessage: (m) => {
        if (m.event === 'end') return onEnd?.();
        if (m.event !== 'line') return;
        const l = JSON.parse(m.data) as LogLine;
        const line: Line = { ...l, offset };
        offset += storedLength(l);
        setChunks((cs) => appendLine(cs, line, offset));
      },
      onEnd: () => onEnd?.(),
    });
    // One stream per tail: reconnecting on every appended line would re-read the log.
  }, [streaming, buildId]);

  useLayoutEffect(() => {
    const el = box.current;
    const p = pendingScroll.current;
    if (!el) return;
    if (p) {
      pendingScroll.current = null;
      if ('to' in p) el.scrollTop = el.scrollHeight;
      else if ('adjust' in p) el.scrollTop += p.adjust;
      else {
        const i = lines.findIndex((l) => l.offset >= p.offset);
        el.scrollTop = Math.max(0, (i === -1 ? lines.length : i) * ROW - el.clientHeight / 3);
      }
      setScrollTop(el.scrollTop);
    } else if (follow) {
      el.scrollTop = el.scrollHeight;
    }
  }, [lines, follow]);

  const onScroll = async () => {
    const el = box.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    if (follow && el.scrollTop + el.clientHeight < el.scrollHeight - ROW * 2) setFollow(false);
    if (loading.current || chunks.length === 0) return;
    const first = chunks[0] as Chunk;
    const last = chunks[chunks.length - 1] as Chunk;
    loading.current = true;
    try {
      if (el.scrollTop < el.clientHeight && first.index > 0) {
        const c = await loadChunk(buildId, first.index - 1);
        pendingScroll.current = { adjust: c.lines.length * ROW };
        setChunks((cs) => [c, ...cs].slice(0, KEEP));
      } else if (el.scrollTop + 2 * el.clientHeight > el.scrollHeight && last.end < total) {
        const c = await loadChunk(
          buildId,
          last.index + 1,
          last.lines.length ? last.end : undefined,
        );
        const dropped = chunks.length + 1 > KEEP ? (chunks[0]?.lines.length ?? 0) : 0;
        pendingScroll.current = { adjust: -dropped * ROW };
        setChunks((cs) => [...cs, c].slice(-KEEP));
      }
    } catch (err) {
      setError(err);
    } finally {
      loading.current = false;
    }
  };

  const matches = useMemo(() => {
    const q = query.toLowerCase();
    if (q.length < 2) return [];
    const out: number[] = [];
    for (let i = 0; i < lines.length && out.length < 10_000; i++)
      if ((lines[i] as Line).text.toLowerCase().includes(q)) out.push(i);
    return out;
  }, [lines, query]);
  const goToMatch = (dir: 1 | -1) => {
    if (matches.length === 0 || !box.current) return;
    const next = (hit + dir + matches.length) % matches.length;
    setHit(next);
    setFollow(false);
    box.current.scrollTop = Math.max(0, (matches[next] ?? 0) * ROW - box.current.clientHeight / 3);
  };

  const height = box.current?.clientHeight ?? 600;
  const from = Math.max(0, Math.floor(scrollTop / ROW) - 20);
  const to = Math.min(lines.length, Math.ceil((scrollTop + height) / ROW) + 20);
  const firstOffset = lines[0]?.offset ?? 0;
  const hitLine = matches[hit] ?? -1;
  const pct = total > 0 ? Math.round((firstOffset / total) * 100) : 0;

  return (
    <div class="log">
      <div class="log-tools" role="toolbar" aria-label="Log">
        <label>
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => {
              setFollow(e.currentTarget.checked);
              if (e.currentTarget.checked && !atTail)
                void openAt(lastChunkIndex(total), { to: 'end' });
            }}
          />{' '}
          Follow
        </label>
        <button
          type="button"
          onClick={() => {
            setFollow(false);
            void openAt(0, { offset: 0 });
          }}
        >
          Top
        </button>
        <button type="button" onClick={() => void openAt(lastChunkIndex(total), { to: 'end' })}>
          End
        </button>
        <label>
          <span class="sr-only">Search the log</span>
          <input
            type="search"
            placeholder="Search the log…"
            value={query}
            onInput={(e) => {
              setQuery(e.currentTarget.value);
              setHit(-1);
            }}
            onKeyDown={(e) => e.key === 'Enter' && goToMatch(e.shiftKey ? -1 : 1)}
          />
        </label>
        {query.length >= 2 && (
          <span aria-live="polite">
            {matches.length} in view{hit >= 0 ? ` · ${hit + 1}` : ''}
          </span>
        )}
        <button type="button" onClick={() => goToMatch(-1)} disabled={matches.length === 0}>
          Prev
        </button>
        <button type="button" onClick={() => goToMatch(1)} disabled={matches.length === 0}>
          Next
        </button>
        <button
          type="button"
          onClick={() => {
            setProgress('0 %');
            downloadRaw(buildId, (b) =>
              setProgress(`${Math.round((b / Math.max(1, total)) * 100)} %`),
            ).then(
              (blob) => {
                const a = document.createElement('a');
                a.href = URL.createObjectURL(blob);
                a.download = `build-${buildId}.log`;
                a.click();
                setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
                setProgress(null);
              },
              (err: unknown) => {
                setError(err);
                setProgress(null);
              },
            );
          }}
        >
          Raw log{progress ? ` (${progress})` : ''}
        </button>
        <span class="muted">
          {total >= 1024 * 1024
            ? `${(total / 1024 / 1024).toFixed(0)} MB`
            : `${(total / 1024).toFixed(1)} KB`}
          {chunks.length > 0 && firstOffset > 0 ? ` · from ${pct} %` : ''}
        </span>
      </div>
      {error ? <ErrorNote error={error} /> : null}
      <div
        ref={box}
        class="log-lines"
        onScroll={() => void onScroll()}
        tabIndex={0}
        role="log"
        aria-label={`Log of build ${buildId}`}
      >
        <div style={{ height: `${lines.length * ROW}px`, position: 'relative' }}>
          {lines.slice(from, to).map((l, k) => {
            const i = from + k;
            const cls = `line ${l.stream}${l.offset === anchor ? ' anchored' : ''}${i === hitLine ? ' hit' : ''}`;
            return (
              <div
                key={l.offset}
                class={cls}
                style={{ top: `${i * ROW}px` }}
                data-offset={l.offset}
              >
                <a
                  class="gutter"
                  href={`#log-${l.offset}`}
                  aria-hidden="true"
                  tabIndex={-1}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`${location.pathname}#log-${l.offset}`, { replace: true });
                  }}
                >
                  {firstOffset === 0 ? i + 1 : '·'}
                </a>
                <span class="text">
                  {ansiSpans(l.text).map((s, j) =>
                    s.cls || s.style ? (
                      <span key={j} class={s.cls} style={s.style}>
                        {s.text}
                      </span>
                    ) : (
                      s.text
                    ),
                  )}
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

function appendLine(cs: Chunk[], line: Line, end: number): Chunk[] {
  const last = cs[cs.length - 1];
  if (!last) return cs;
  const index = Math.floor(line.offset / CHUNK);
  if (index === last.index)
    return [...cs.slice(0, -1), { ...last, lines: [...last.lines, line], end }];
  return [...cs, { index, lines: [line], end, size: end, done: false }].slice(-KEEP);
}
