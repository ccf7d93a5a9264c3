import type { EnvValue } from '../core/pipeline.js';

/** Variables of the server's environment that steps must never see. */
const WITHHELD = ['NIGHTLESS_TOKEN'];

/**
 * A step's environment, later layers winning: the server's environment (minus its token), the
 * spec's env, the job's env, the step's env, then nightless' own variables (build, workspace,
 * inputs), which user configuration cannot override.
 */
export function stepEnv(
  specEnv: Readonly<Record<string, string>>,
  jobEnv: Readonly<Record<string, EnvValue>>,
  stepEnvValues: Readonly<Record<string, EnvValue>>,
  nightless: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !WITHHELD.includes(k)) env[k] = v;
  Object.assign(env, specEnv);
  for (const [k, v] of Object.entries(jobEnv)) env[k] = v.value;
  for (const [k, v] of Object.entries(stepEnvValues)) env[k] = v.value;
  Object.assign(env, nightless);
  return env;
}

/** Secret values defined in env blocks, to be masked along with the spec's secret values. */
export function envSecrets(...blocks: readonly Readonly<Record<string, EnvValue>>[]): string[] {
  return blocks.flatMap((b) =>
    Object.values(b)
      .filter((v) => v.secret)
      .map((v) => v.value),
  );
}
