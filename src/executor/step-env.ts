import type { EnvValue } from '../core/pipeline.js';

/** Variables of the server's environment that steps must never see. */
const WITHHELD = ['NIGHTLESS_TOKEN'];

/**
 * A step's environment, later layers winning: the server's environment (minus its token; none of
 * it when `sandboxed`), the
 * spec's env, the job's env, the step's env, then nightless' own variables (build, workspace,
 * inputs), which user configuration cannot override.
 */
export function stepEnv(
  specEnv: Readonly<Record<string, string>>,
  jobEnv: Readonly<Record<string, EnvValue>>,
  stepEnvValues: Readonly<Record<string, EnvValue>>,
  nightless: Readonly<Record<string, string>>,
  sandboxed = false,
): Record<string, string> {
  const env: Record<string, string> = sandboxed ? sandboxBaseEnv() : {};
  if (!sandboxed)
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !WITHHELD.includes(k)) env[k] = v;
  Object.assign(env, specEnv);
  for (const [k, v] of Object.entries(jobEnv)) env[k] = v.value;
  for (const [k, v] of Object.entries(stepEnvValues)) env[k] = v.value;
  Object.assign(env, nightless);
  return env;
}

/**
 * A sandboxed step sees none of the server's environment: only a search path (the server's,
 * so the same tools are found), a home in its private `/tmp` and a UTF-8 locale.
 */
function sandboxBaseEnv(): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp',
    LANG: 'C.UTF-8',
  };
}

/** Secret values defined in env blocks, to be masked along with the spec's secret values. */
export function envSecrets(...blocks: readonly Readonly<Record<string, EnvValue>>[]): string[] {
  return blocks.flatMap((b) =>
    Object.values(b)
      .filter((v) => v.secret)
      .map((v) => v.value),
  );
}

/**
 * An env block without its secret values (`${env:NAME}`): what an untrusted build gets. The
 * variable is left out entirely, so a step can tell "not given" from "empty".
 */
export function withoutSecrets(
  block: Readonly<Record<string, EnvValue>>,
): Readonly<Record<string, EnvValue>> {
  return Object.fromEntries(Object.entries(block).filter(([, v]) => !v.secret));
}
