import type { Build } from '../../core/build.js';
import type { ReportDef } from '../../core/pipeline.js';
import { HttpPoster } from '../http/http-post.js';
import type { OutgoingEvent, SendOutcome, SenderContext, SingleSender } from '../sender.js';
import { giteaStatus } from './gitea.js';
import { githubStatus } from './github.js';
import { gitlabStatus } from './gitlab.js';
import { parseRepoPath, type RepoPath } from './repo-path.js';
import { statusOf } from './status-of-build.js';

type CommitStatusDef = Extract<ReportDef, { kind: 'commit_status' }>;

const FORGES = { github: githubStatus, gitlab: gitlabStatus, gitea: giteaStatus } as const;

/**
 * Sets the status of the build's git commit on the forge (docs/events.md, "Commit statuses").
 * The commit is the version of the build's first git input whose URL names a repository; builds
 * without one are not this target's business.
 */
export function commitStatusSender(def: CommitStatusDef, ctx: SenderContext): SingleSender {
  const poster = new HttpPoster();
  const commitOf = (build: Build): { repo: RepoPath; sha: string } | null => {
    const sources = ctx.pipeline().sources;
    for (const input of build.inputs) {
      const src = sources.get(input.source);
      if (src?.kind !== 'git') continue;
      const repo = parseRepoPath(src.url);
      if (repo) return { repo, sha: input.version };
    }
    return null;
  };
  return {
    mode: 'single',
    maxAttempts: def.maxAttempts,
    // Commit statuses have nothing to say about SLOs.
    wants: (e: OutgoingEvent) => e.kind === 'build' && commitOf(e.record.build) !== null,
    async send(e, _delivery, signal): Promise<SendOutcome> {
      if (e.kind !== 'build') return { ok: true };
      const build = e.record.build;
      const commit = commitOf(build);
      if (!commit) return { ok: true };
      const related =
        e.record.type === 'skipped' && build.relatedBuild !== null
          ? await ctx.getBuild(build.relatedBuild)
          : null;
      const status = statusOf(e.record.type, build, related);
      const req = FORGES[def.provider](
        {
          token: def.token,
          baseUrl: def.baseUrl,
          context: def.context,
          targetUrl: e.event.data.build.url,
        },
        commit.repo,
        commit.sha,
        status,
      );
      return poster.post(req.url, JSON.stringify(req.body), {
        headers: { ...req.headers, 'Content-Type': 'application/json', 'User-Agent': 'nightless' },
        connectTimeoutMs: 3_000,
        timeoutMs: 10_000,
        followRedirects: false,
        policy: {
          allowPrivate: def.allowPrivate,
          allowHint: `allow_private: true on the ${def.provider} commit_status report`,
        },
        signal,
      });
    },
    close() {
      poster.close();
      return Promise.resolve();
    },
  };
}
