/**
 * Links to builds, made here only. `publicUrl` is the server's external base URL (`--public-url`);
 * a trailing slash is tolerated. People get the page; scripts that want JSON use the API URL.
 */

function base(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '');
}

/** The build's page in the web UI: what reports and `NIGHTLESS_BUILD_URL` link to. */
export function buildPageUrl(publicUrl: string, id: number): string {
  return `${base(publicUrl)}/builds/${id}`;
}

/** The build's API resource. */
export function buildApiUrl(publicUrl: string, id: number): string {
  return `${base(publicUrl)}/api/builds/${id}`;
}
