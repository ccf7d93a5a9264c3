import type { Command } from 'commander';

/**
 * `nightless migrate-store --from DIR --to postgres://…`: copies the embedded store into an empty
 * PostgreSQL database (docs/deploy.md). Exit code 0 copied, 1 refused or failed.
 */
export function registerMigrateStore(program: Command): void {
  program
    .command('migrate-store')
    .description('copy the embedded SQLite store into an empty PostgreSQL database')
    .requiredOption('--from <dir>', 'data directory (or its nightless.db) to copy from')
    .option('--to <url>', 'PostgreSQL URL to copy into (default: $NIGHTLESS_DATABASE_URL)')
    .addHelpText(
      'after',
      `
Examples:
  $ nightless migrate-store --from .nightless --to postgres://nightless@db.example.com:5432/nightless

Stop the server first: the data directory stays locked during the copy. Every table is copied
with its ids (build #42 stays #42) in one transaction; the target must hold no nightless data.
Afterwards start \`nightless serve --database URL\` with the same --data-dir: logs, artifacts and
the token file stay there.`,
    )
    .action(async (opts: { from: string; to?: string }) => {
      const to = opts.to ?? (process.env.NIGHTLESS_DATABASE_URL || undefined);
      if (!to) {
        process.stderr.write(
          'nightless migrate-store: --to URL (or NIGHTLESS_DATABASE_URL) is required\n',
        );
        process.exitCode = 1;
        return;
      }
      const { migrateStore, parseDatabaseUrl, redactDatabaseUrl } =
        await import('../../app/migrate-store-entry.js');
      try {
        parseDatabaseUrl(to);
        const report = await migrateStore({ from: opts.from, to });
        const total = report.tables.reduce((n, t) => n + t.rows, 0);
        for (const t of report.tables) process.stdout.write(`${t.table.padEnd(16)} ${t.rows}\n`);
        process.stdout.write(`copied ${total} rows into ${redactDatabaseUrl(to)}\n`);
        const { logs, blobs } = report.files;
        process.stdout.write(`copied ${logs} build logs and ${blobs} artifact blobs\n`);
      } catch (err) {
        process.stderr.write(`nightless migrate-store: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
