import { useEffect, useState } from 'preact/hooks';

/** The tab's location as the pages see it: path and hash (`#log-123` anchors a log line). */
export interface Loc {
  readonly path: string;
  readonly search: URLSearchParams;
  readonly hash: string;
}

const listeners = new Set<() => void>();
const current = (): Loc => ({
  path: location.pathname,
  search: new URLSearchParams(location.search),
  hash: location.hash.replace(/^#/, ''),
});

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** History navigation without a reload; deep links work because the server serves every page path. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
  if (!to.includes('#')) window.scrollTo(0, 0);
}

export function useLocation(): Loc {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const l = () => setLoc(current());
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return loc;
}

/** A click on an in-app link: navigate in place unless the user asked for a new tab. */
export function onLinkClick(e: MouseEvent): void {
  const a = (e.target as Element | null)?.closest('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const href = a.getAttribute('href');
  if (!href?.startsWith('/') || href.startsWith('/api/') || a.hasAttribute('download')) return;
  e.preventDefault();
  navigate(href);
}
