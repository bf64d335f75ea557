/**
 * Structured JSON logs: the Powertools Logger itself, with a log formatter that redacts secrets.
 * Every line passes through `RedactingLogFormatter`, which replaces any attribute whose name looks
 * like a secret, so a careless `logger.info('x', { tokens })` cannot leak a token. Errors are
 * kept as errors (name, message, stack, cause; the Lambdas ship source maps, so stacks point at
 * our sources) and are redacted the same way. The Lambda context is added at the handler edge.
 */
import { LogFormatter, LogItem, Logger } from '@aws-lambda-powertools/logger';
import type { LogAttributes, LogItemExtraInput, LogItemMessage, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';

const SECRET_KEY = /token|secret|signing_?key|signingkey|password|authorization|code_?verifier|^code$|sealed/i;

/** Replaces secret-looking attributes at any depth; errors become their formatted form first. */
export function redact(value: unknown, depth = 0, formatError: (e: Error) => unknown = (e) => ({ name: e.name, message: e.message, stack: e.stack })): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redact(formatError(value), depth + 1, formatError);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, formatError));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1, formatError);
  }
  return out;
}

/** Extra sinks: tests push captured lines here to scan them for secrets (each line as printed). */
export const logSinks: Array<(line: Record<string, unknown>) => void> = [];

/** The Powertools log shape, with the additional attributes redacted. */
export class RedactingLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const safe = redact(additional, 0, (e) => this.formatError(e)) as LogAttributes;
    const base = {
      level: attributes.logLevel,
      message: attributes.message,
      timestamp: this.formatTimestamp(attributes.timestamp),
      service: attributes.serviceName,
      cold_start: attributes.lambdaContext?.coldStart,
      function_arn: attributes.lambdaContext?.invokedFunctionArn,
      function_memory_size: attributes.lambdaContext?.memoryLimitInMB,
      function_name: attributes.lambdaContext?.functionName,
      function_request_id: attributes.lambdaContext?.awsRequestId,
      sampling_rate: attributes.sampleRateValue,
      xray_trace_id: attributes.xRayTraceId,
    };
    for (const sink of logSinks) sink({ ...base, level: attributes.logLevel.toLowerCase(), ...safe });
    return new LogItem({ attributes: base }).addAttributes(safe);
  }
}

/**
 * The Powertools Logger, except that lines under the configured level still reach `logSinks`
 * (formatted and redacted, not printed): a test capturing lines to scan them for secrets sees
 * every level while the output stays at WARN.
 */
class ServiceLogger extends Logger {
  protected override processLogItem(logLevel: number, input: LogItemMessage, extraInput: LogItemExtraInput): void {
    if (logSinks.length > 0 && logLevel < this.level) this.createAndPopulateLogItem(logLevel, input, extraInput);
    super.processLogItem(logLevel, input, extraInput);
  }
}

export const logger = new ServiceLogger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'calendly-connector',
  logLevel: (process.env.LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO') as 'INFO',
  logFormatter: new RedactingLogFormatter(),
});
