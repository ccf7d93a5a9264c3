import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';

/**
 * A loopback port whose accept queue is full: the listener (a Python process, as Node always
 * accepts) never calls accept(), and filler connections take the queue's places, so the kernel
 * drops further SYNs — a host that silently drops packets, without leaving the machine.
 */
export class Blackhole {
  private fillers: Socket[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<Blackhole> {
    const child = spawn(
      'python3',
      [
        '-c',
        'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\n' +
          'print(s.getsockname()[1],flush=True)\nsys.stdin.read()',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    });
    const hole = new Blackhole(child, port);
    // Fill the queue: connect until a connect doesn't complete within 300 ms.
    for (let i = 0; i < 16; i++) {
      const ok = await hole.fill();
      if (!ok) return hole;
    }
    await hole.stop();
    throw new Error('could not fill the accept queue of the blackhole listener');
  }

  async stop(): Promise<void> {
    for (const s of this.fillers) s.destroy();
    this.child.stdin?.end();
    this.child.kill();
    await new Promise((r) => setTimeout(r, 10));
  }

  private fill(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = new Socket();
      this.fillers.push(s);
      const t = setTimeout(() => resolve(false), 300);
      s.once('connect', () => (clearTimeout(t), resolve(true)));
      s.once('error', () => (clearTimeout(t), resolve(false)));
      s.connect(this.port, '127.0.0.1');
    });
  }
}
