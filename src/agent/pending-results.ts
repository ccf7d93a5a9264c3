import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunResult } from '../executor/port.js';

export interface PendingResult {
  readonly buildId: number;
  readonly result: RunResult;
  readonly logBytes: number;
}

/**
 * Results the server has not acknowledged yet, one file each in `<work-dir>/results/`: written
 * before the first attempt and removed after the server's answer, so neither an unreachable
 * server nor an agent restart loses a finished build's result.
 */
export class PendingResults {
  private readonly dir: string;

  constructor(workDir: string) {
    this.dir = join(workDir, 'results');
  }

  async keep(p: PendingResult): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `${p.buildId}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(p));
    await rename(`${file}.tmp`, file);
  }

  async done(buildId: number): Promise<void> {
    await rm(join(this.dir, `${buildId}.json`), { force: true });
  }

  async all(): Promise<PendingResult[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const out: PendingResult[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const text = await readFile(join(this.dir, name), 'utf8').catch(() => null);
      if (text !== null) out.push(JSON.parse(text) as PendingResult);
    }
    return out;
  }
}

/**
 * Builds this agent runs, one marker file each in `<work-dir>/running/`: an agent that starts
 * and finds markers was killed mid-build, and kills what those builds left running (their step
 * processes carry the workspace in their environment) before it claims anything.
 */
export class RunningMarkers {
  private readonly dir: string;

  constructor(workDir: string) {
    this.dir = join(workDir, 'running');
  }

  async add(buildId: number): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, String(buildId)), `${process.pid}\n`);
  }

  async remove(buildId: number): Promise<void> {
    await rm(join(this.dir, String(buildId)), { force: true });
  }

  async list(): Promise<number[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.map(Number).filter((n) => Number.isInteger(n) && n > 0);
  }
}
