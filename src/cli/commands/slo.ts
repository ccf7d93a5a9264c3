import type { Command } from 'commander';
import type { SloReportView } from '../../api/types.js';
import { commandContext, withClientOptions } from '../client-options.js';
import { formatSlos } from '../format/slos.js';

export function registerSlo(program: Command): void {
  withClientOptions(
    program
      .command('slo')
      .description('show each SLO: attainment, remaining error budget, burn rates, status'),
  )
    .addHelpText(
      'after',
      `
Burn rates are shown as long/short window pairs: fast 1h/5m, slow 6h/30m (or the pipeline's
own windows). 1 spends exactly the budget over the SLO window; the fast alert fires above 14.4,
the slow one above 6. Status: ok, burning (an alert fires), exhausted (no budget left).

Examples:
  $ nightless slo
  SLO          INDICATOR    OBJECTIVE     ATTAINMENT           BUDGET LEFT        FAST BURN  SLOW BURN  STATUS
  reliability  reliability  99.5% / 28d   99.8% (3/1500 bad)   60% (4.5 events)   0/0        0.4/0      ok

  $ nightless slo --json | jq '.slos[] | select(.status != "ok")'`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.getJson<{ slos: SloReportView[] }>('/api/slos');
      if (json) return out.json(body);
      out.print(...formatSlos(body.slos, out.colours));
    });
}
