import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logs (Powertools Logger). Every log line passes through `redact`, which drops
 * any attribute whose name looks like a secret, so a careless `logger.info('x', {tokens})`
 * cannot leak a token. The log sink can be swapped (tests capture it to scan for secrets).
 */
const SECRET_KEY = /token|secret|signing_?key|signingkey|password|authorization|code_?verifier|^code$|sealed/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

type LogFn = (message: string, attrs?: Record<string, unknown>) => void;

export interface AppLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** Attach a correlation id (API request id, SQS message id) to every following line. */
  withCorrelationId(id: string | undefined): void;
}

const powertools = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'calendly-connector',
  logLevel: (process.env.LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO') as 'INFO',
});

/** Extra sinks: tests push captured lines here to scan them for secrets. */
export const logSinks: Array<(line: Record<string, unknown>) => void> = [];

function emit(level: 'debug' | 'info' | 'warn' | 'error', message: string, attrs?: Record<string, unknown>) {
  const safe = attrs ? (redact(attrs) as Record<string, unknown>) : undefined;
  for (const sink of logSinks) sink({ level, message, ...safe });
  if (safe) powertools[level](message, safe);
  else powertools[level](message);
}

export const logger: AppLogger = {
  debug: (m, a) => emit('debug', m, a),
  info: (m, a) => emit('info', m, a),
  warn: (m, a) => emit('warn', m, a),
  error: (m, a) => emit('error', m, a),
  withCorrelationId(id) {
    powertools.appendKeys({ correlationId: id });
  },
};
