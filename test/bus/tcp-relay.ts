import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

/** A TCP relay to a broker that a test can cut (a network failure) and bring back. */
export class TcpRelay {
  private server: Server | null = null;
  private readonly conns = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: { readonly host: string; readonly port: number },
  ) {}

  /** A relay on a free loopback port, not listening yet. */
  static async to(target: { host: string; port: number }): Promise<TcpRelay> {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    return new TcpRelay(port, target);
  }

  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.conns.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.conns.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => this.server?.listen(this.port, '127.0.0.1', r));
  }

  /** Stops listening and cuts every connection. Safe to call twice. */
  async down(): Promise<void> {
    for (const s of this.conns) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
