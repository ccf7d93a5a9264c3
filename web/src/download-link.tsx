import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiFailure, authHeaders } from './api.js';
import { ErrorNote } from './components.js';
import { getToken } from './token.js';

/**
 * A download of an API resource (a build output). Without a token it is a plain link (reads are
 * open); with one, the file is fetched with the `Authorization` header — a link cannot carry it —
 * and handed to the browser as a download.
 */
export function DownloadLink({
  href,
  name,
  children,
}: {
  href: string;
  name: string;
  children: ComponentChildren;
}) {
  const [error, setError] = useState<unknown>(null);
  const click = async (e: MouseEvent) => {
    if (!getToken()) return;
    e.preventDefault();
    setError(null);
    try {
      const res = await fetch(href, {
        headers: authHeaders(),
        signal: AbortSignal.timeout(600_000),
      });
      if (!res.ok)
        throw new ApiFailure(res.status, `HTTP_${res.status}`, `${res.status} ${res.statusText}`);
      const a = document.createElement('a');
      a.href = URL.createObjectURL(await res.blob());
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <a href={href} download={name} onClick={(e) => void click(e)}>
        {children}
      </a>
      {error ? <ErrorNote error={error} /> : null}
    </>
  );
}
