/** The first line after the shebang of every hook nightless writes: how install recognises its own. */
export const HOOK_MARKER = '# nightless-hook: installed by `nightless hook install`';

/** Suffix the hook that was there before ours is moved to; ours calls it first. */
export const CHAINED_SUFFIX = '.pre-nightless';

export type HookName = 'post-receive' | 'reference-transaction';

export interface HookScriptOptions {
  readonly hook: HookName;
  /** Base URL of the server, without a trailing slash. */
  readonly serverUrl: string;
  /** Absolute path of the repository, as the server should match it against `git:` sources. */
  readonly repo: string;
  /** File holding the API token, read at each run (`NIGHTLESS_TOKEN` in the environment wins). */
  readonly tokenFile: string | null;
}

/** A value inside single quotes in sh: `'` becomes `'\''`. */
function shQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * The hook, a POSIX sh script. Contract: it never fails or delays the git operation because of
 * nightless — it always exits with the chained hook's status (0 without one), and the
 * notification runs detached in the background with a 1 s connect and 2 s total timeout
 * (curl, else node's fetch). A missed notification is caught by the fallback poll.
 *
 * Ref names reach the server as JSON data: git forbids control characters and `\` in ref names,
 * so escaping `"` (and `\` for safety) is enough; they are never evaluated by the shell.
 * The token never appears on a command line (curl reads the header from a 0600 temp file).
 */
export function hookScript(o: HookScriptOptions): string {
  const onlyCommitted =
    o.hook === 'reference-transaction'
      ? `# reference-transaction runs for "prepared", "committed" and "aborted": only "committed" is news.
[ "$1" = committed ] || exit "$status"
`
      : '';
  return `#!/bin/sh
${HOOK_MARKER}
# Tells nightless about updated refs. Remove with \`nightless hook uninstall <repo>\`.
# It never fails the git operation: the notification runs in the background with short timeouts.
NIGHTLESS_URL=${shQuote(o.serverUrl)}
NIGHTLESS_REPO_JSON=${shQuote(JSON.stringify(o.repo))}
NIGHTLESS_TOKEN_FILE=${shQuote(o.tokenFile ?? '')}

input=$(cat)
status=0
chained="$0${CHAINED_SUFFIX}"
if [ -x "$chained" ]; then
  # The hook that was here before nightless: same arguments, same input, its exit status kept.
  printf '%s' "$input\${input:+
}" | "$chained" "$@"
  status=$?
fi
${onlyCommitted}
updates=''
while read -r old new ref; do
  case "$ref" in
    refs/heads/*|refs/tags/*) ;;
    *) continue ;;
  esac
  ref=$(printf '%s' "$ref" | sed 's/\\\\/\\\\\\\\/g; s/"/\\\\"/g')
  updates="$updates\${updates:+,}{\\"old\\":\\"$old\\",\\"new\\":\\"$new\\",\\"ref\\":\\"$ref\\"}"
done <<NIGHTLESS_EOF
$input
NIGHTLESS_EOF
[ -n "$updates" ] || exit "$status"
body="{\\"repo\\":$NIGHTLESS_REPO_JSON,\\"updates\\":[$updates]}"

token=\${NIGHTLESS_TOKEN:-}
if [ -z "$token" ] && [ -n "$NIGHTLESS_TOKEN_FILE" ] && [ -r "$NIGHTLESS_TOKEN_FILE" ]; then
  token=$(cat "$NIGHTLESS_TOKEN_FILE")
fi

(
  if command -v curl >/dev/null 2>&1 && [ -z "\${NIGHTLESS_HOOK_NO_CURL:-}" ]; then
    headers=$(umask 077 && mktemp) || exit 0
    printf 'Authorization: Bearer %s\\n' "$token" >"$headers"
    printf '%s' "$body" | curl -sS -o /dev/null --connect-timeout 1 --max-time 2 -X POST \\
      -H 'Content-Type: application/json' -H "@$headers" --data-binary @- "$NIGHTLESS_URL/hooks/git"
    rm -f "$headers"
  elif command -v node >/dev/null 2>&1; then
    printf '%s' "$body" | NL_URL="$NIGHTLESS_URL/hooks/git" NL_TOKEN="$token" node -e '
      let b = "";
      process.stdin.setEncoding("utf8").on("data", (d) => (b += d)).on("end", () => {
        if (typeof fetch !== "function") process.exit(0);
        fetch(process.env.NL_URL, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer " + process.env.NL_TOKEN },
          body: b,
          signal: AbortSignal.timeout(2000),
        }).catch(() => {}).finally(() => process.exit(0));
      });'
  fi
) </dev/null >/dev/null 2>&1 &

exit "$status"
`;
}
