import type { BuildInput } from '../core/build.js';
import type { SourceDef } from '../core/pipeline.js';
import { requestNumber } from '../core/change-request.js';
import type { ChangeRequestPort } from '../store/ports/change-requests.js';

/** What the runner asks about a build before running it. */
export type TrustLookup = Pick<ChangeRequestPort, 'getRequest' | 'approvalOf'>;

/**
 * Why a build is untrusted, or `null` when it is trusted. A build is untrusted when one of its
 * inputs is the head of a change request from a fork that no maintainer approved at exactly that
 * commit — or of a request nightless has no record of (it cannot tell where the code came from,
 * so it assumes the worst). Builds of branches and tags are always trusted.
 */
export async function untrustedReason(
  lookup: TrustLookup | undefined,
  inputs: readonly BuildInput[],
): Promise<string | null> {
  for (const input of inputs) {
    const number = requestNumber(input.ref);
    if (number === null) continue;
    const request = lookup ? await lookup.getRequest(input.source, number) : null;
    if (request === null)
      return `${input.source} ${input.ref}: no record of this change request (where its code comes from is unknown)`;
    if (!request.fork) continue;
    const approval = await lookup?.approvalOf(input.source, number, input.version);
    if (!approval)
      return `${input.source} ${input.ref} comes from a fork and ${input.version.slice(0, 12)} is not approved (nightless approve ${input.ref}@${input.version.slice(0, 12)})`;
  }
  return null;
}

/**
 * The branch to merge into a change request's head before its steps run (`checkout: merge`):
 * the request's target as last recorded; `null` for heads, branches and unknown requests.
 */
export async function mergeTargetOf(
  lookup: TrustLookup | undefined,
  input: BuildInput,
  def: SourceDef,
): Promise<string | null> {
  const number = requestNumber(input.ref);
  if (number === null || def.kind !== 'git' || def.changeRequests?.checkout !== 'merge')
    return null;
  return (await lookup?.getRequest(input.source, number))?.target ?? null;
}
