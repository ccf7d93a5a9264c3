import type { StepDef } from '../core/pipeline.js';
import { HeldStep } from './held-step.js';
import { expectedInputs, inputEnv, inputsFilePath, type MaterializedInput } from './inputs.js';
import type { RunSpec } from './port.js';
import { stepEnv, withoutSecrets } from './step-env.js';

/** Untrusted builds are sandboxed unless the job explicitly says `none`. */
export function isolationOf(spec: RunSpec): 'none' | 'sandbox' {
  return spec.job.isolation ?? (spec.untrusted !== undefined ? 'sandbox' : 'none');
}

/** The environment a build's steps see, and its first step started ahead of time. */
export class BuildEnv {
  private readonly untrusted: boolean;

  constructor(
    private readonly spec: RunSpec,
    private readonly workspace: string,
    private readonly buildUrl: ((buildId: number) => string) | undefined,
  ) {
    this.untrusted = spec.untrusted !== undefined;
  }

  /** `NIGHTLESS_*`: the build, the workspace and the inputs. */
  nightless(inputs: readonly MaterializedInput[]): Record<string, string> {
    const { spec, workspace } = this;
    return {
      NIGHTLESS_BUILD_ID: String(spec.buildId),
      NIGHTLESS_JOB: spec.job.name,
      NIGHTLESS_WORKSPACE: workspace,
      NIGHTLESS_INPUTS_FILE: inputsFilePath(workspace),
      ...(this.buildUrl === undefined ? {} : { NIGHTLESS_BUILD_URL: this.buildUrl(spec.buildId) }),
      ...inputEnv(inputs),
    };
  }

  /** Everything `step` sees; untrusted code never sees the server's environment or secrets. */
  step(
    step: StepDef,
    nightless: Record<string, string>,
    sandboxed: boolean,
  ): Record<string, string> {
    const { spec, untrusted } = this;
    return stepEnv(
      spec.env,
      untrusted ? withoutSecrets(spec.job.env) : spec.job.env,
      untrusted ? withoutSecrets(step.env) : step.env,
      nightless,
      sandboxed || untrusted,
    );
  }

  /**
   * The first step started now, held until the inputs are in place (`HeldStep`), when its
   * command is known already: unsandboxed, every input a git commit named by its full id.
   */
  holdFirstStep(): HeldStep | undefined {
    const first = this.spec.job.steps[0];
    const expected = expectedInputs(this.workspace, this.spec.inputs);
    if (first === undefined || expected === null || isolationOf(this.spec) !== 'none')
      return undefined;
    const env = this.step(first, this.nightless(expected), false);
    return HeldStep.hold({ script: first.run, cwd: this.workspace, env });
  }
}
