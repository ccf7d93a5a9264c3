import pino, { type Logger } from 'pino';

/** Structured JSON logs; human-readable when stderr is a terminal. Secrets are never passed in. */
export function createLogger(level: string, pretty = process.stderr.isTTY): Logger {
  return pretty
    ? pino({
        level,
        transport: {
          target: 'pino-pretty',
          options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
        },
      })
    : pino({ level }, pino.destination(2));
}
