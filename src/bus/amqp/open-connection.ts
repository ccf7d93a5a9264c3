import { connect, type ChannelModel } from 'amqplib';

export interface OpenOptions {
  /** TCP connect and the AMQP handshake together. */
  readonly timeoutMs: number;
  readonly heartbeatSeconds: number;
  readonly connectionName: string;
}

/**
 * Opens a connection or fails within `timeoutMs`: the socket timeout covers TCP, the race also
 * covers a broker that accepts and never talks. A connection that arrives after the timeout is
 * closed, not leaked. Errors name the broker by host and port only (the URL holds credentials).
 */
export async function openWithTimeout(url: string, opts: OpenOptions): Promise<ChannelModel> {
  const connecting = connect(withHeartbeat(url, opts.heartbeatSeconds), {
    timeout: opts.timeoutMs,
    clientProperties: { connection_name: opts.connectionName },
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`amqp connect timed out after ${opts.timeoutMs} ms to ${brokerAddress(url)}`),
        ),
      opts.timeoutMs,
    );
  });
  try {
    return await Promise.race([connecting, timeout]);
  } catch (err) {
    connecting
      .then(
        (m) => m.close(),
        () => undefined,
      )
      .catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      message.includes(brokerAddress(url)) ? message : `${message} (${brokerAddress(url)})`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** `host:port` of an AMQP URL, safe to log. */
export function brokerAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'amqps:' ? 5671 : 5672)}`;
  } catch {
    return 'the broker';
  }
}

/** The operator's `heartbeat` query parameter wins; otherwise ours. */
function withHeartbeat(url: string, seconds: number): string {
  try {
    const u = new URL(url);
    if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(seconds));
    return u.toString();
  } catch {
    return url; // amqplib reports the malformed URL itself
  }
}
