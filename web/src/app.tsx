import { BuildPage } from './pages/build.js';
import { DecisionsPage } from './pages/decisions.js';
import { DeliveriesPage } from './pages/deliveries.js';
import { JobPage } from './pages/job.js';
import { PipelinePage } from './pages/pipeline.js';
import { SlosPage } from './pages/slos.js';
import { SourcesPage } from './pages/sources.js';
import { TracePage } from './pages/trace.js';
import { onLinkClick, useLocation, type Loc } from './router.js';
import { TokenDialog } from './token-dialog.js';

const NAV: ReadonlyArray<[string, string]> = [
  ['/', 'Pipeline'],
  ['/trace', 'Trace'],
  ['/sources', 'Sources'],
  ['/deliveries', 'Deliveries'],
  ['/decisions', 'Decisions'],
  ['/slos', 'SLOs'],
];

export function App() {
  const loc = useLocation();
  const section = `/${loc.path.split('/')[1] ?? ''}`;
  return (
    <div onClick={onLinkClick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <a href="/" class="brand">
          ☾ nightless
        </a>
        <nav aria-label="Pages">
          {NAV.map(([href, label]) => (
            <a
              key={href}
              href={href}
              aria-current={
                section === href || (href === '/' && section === '/jobs') ? 'page' : undefined
              }
            >
              {label}
            </a>
          ))}
        </nav>
        <TokenDialog />
      </header>
      <main id="main" tabIndex={-1}>
        <Page loc={loc} />
      </main>
    </div>
  );
}

function Page({ loc }: { loc: Loc }) {
  const parts = loc.path.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second] = parts;
  document.title = `${first ? `${first}${second ? ` ${second}` : ''} · ` : ''}nightless`;
  if (!first) return <PipelinePage />;
  if (first === 'jobs' && second) return <JobPage key={second} name={second} />;
  if (first === 'builds' && second && /^\d+$/.test(second))
    return <BuildPage key={second} id={Number(second)} hash={loc.hash} />;
  if (first === 'trace') return <TracePage loc={loc} />;
  if (first === 'sources') return <SourcesPage />;
  if (first === 'deliveries') return <DeliveriesPage />;
  if (first === 'decisions') return <DecisionsPage loc={loc} />;
  if (first === 'slos') return <SlosPage />;
  return (
    <>
      <h1>Not found</h1>
      <p>
        No page at {loc.path}. <a href="/">Go to the pipeline.</a>
      </p>
    </>
  );
}
