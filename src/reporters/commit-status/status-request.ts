/** What every forge's status call needs besides the commit. */
export interface StatusTarget {
  readonly token: string;
  /** API base (`https://api.github.com`, `https://gitlab.example.com`); `null` = the default. */
  readonly baseUrl: string | null;
  /** The check's name on the forge (`context` / GitLab `name`). */
  readonly context: string;
  /** The build page. */
  readonly targetUrl: string;
}

export interface StatusRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, string>>;
}
