/**
 * The API token, kept per tab in `sessionStorage`: never a cookie, so no request is sent with
 * it unless a page adds it on purpose (no CSRF surface), and closing the tab forgets it.
 */
const KEY = 'nightless.token';
const listeners = new Set<() => void>();

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token === null || token.trim() === '') sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, token.trim());
  for (const l of listeners) l();
}

export function onTokenChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Asks the token dialog to open (a page met a 401, or a 403 for lack of `scope`). */
const askListeners = new Set<(why: string, scope: string) => void>();
export function askForToken(why: string, scope = 'trigger'): void {
  for (const l of askListeners) l(why, scope);
}
export function onAskForToken(fn: (why: string, scope: string) => void): () => void {
  askListeners.add(fn);
  return () => askListeners.delete(fn);
}
