import type { Command } from 'commander';
import { commandContext, withClientOptions } from '../client-options.js';

interface RequestRow {
  readonly source: string;
  readonly number: number;
  readonly headSha: string;
  readonly fork: boolean;
  readonly state: string;
  readonly title: string;
  readonly author: string;
}

interface ApproveResponse {
  readonly approval: { source: string; number: number; sha: string; by: string };
  readonly request: RequestRow;
}

/** `[SOURCE:]pr/42@SHA`: which request, at which head commit. */
export function parseApproveTarget(text: string): {
  source: string | null;
  number: number;
  sha: string;
} {
  const m = /^(?:([^:@\s]+):)?pr\/([1-9][0-9]{0,9})@([0-9a-fA-F]{7,64})$/.exec(text);
  if (!m)
    throw new Error(
      `"${text}" is not a request at a commit: write pr/NUMBER@SHA (or SOURCE:pr/NUMBER@SHA), e.g. pr/42@3f2a1c0`,
    );
  return { source: m[1] ?? null, number: Number(m[2]), sha: (m[3] ?? '').toLowerCase() };
}

export function registerApprove(program: Command): void {
  withClientOptions(
    program
      .command('approve')
      .description("approve one head commit of a fork's change request: its builds get secrets")
      .argument('<request>', '[SOURCE:]pr/NUMBER@SHA (the head commit you reviewed)'),
  )
    .addHelpText(
      'after',
      `
Builds of a change request from a fork run sandboxed, without secrets or publish, until a
maintainer approves its head commit. An approval names that commit: a new push needs a new one.
Needs a token with the "approve" scope. SOURCE may be left out when one source has the request.

Examples:
  $ nightless approve pr/42@3f2a1c0
  approved app pr/42 at 3f2a1c0d9e8b ("Fix the parser" by octo-stranger)
  $ nightless rebuild 57      # run the build again, now trusted`,
    )
    .action(async (text: string, _opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const target = parseApproveTarget(text);
      let source = target.source;
      if (source === null) {
        const { requests } = await client.getJson<{ requests: RequestRow[] }>('/api/requests');
        const found = requests.filter((r) => r.number === target.number);
        if (found.length === 0) throw new Error(`no change request pr/${target.number} is known`);
        if (found.length > 1)
          throw new Error(
            `pr/${target.number} exists in ${found.map((r) => r.source).join(', ')}: say which, e.g. ${found[0]?.source}:pr/${target.number}@${target.sha}`,
          );
        source = found[0]?.source ?? '';
      }
      const body = await client.postJson<ApproveResponse>(
        `/api/requests/${encodeURIComponent(source)}/${target.number}/approve`,
        { sha: target.sha },
      );
      if (json) return out.json(body);
      const r = body.request;
      out.print(
        `approved ${source} pr/${target.number} at ${body.approval.sha.slice(0, 12)} (${JSON.stringify(r.title)} by ${r.author})`,
      );
    });
}
