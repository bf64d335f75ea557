// PLACEHOLDER — replaced by the real undici client (issue 3). Signature is the contract.
import type { CalendlyPort } from './port.js';

export interface CalendlyClientOptions {
  /** https://auth.calendly.com in production; the sandbox base locally. */
  authBaseUrl: string;
  /** https://api.calendly.com in production; the sandbox base locally. */
  apiBaseUrl: string;
  clientId: string;
  clientSecret: string;
}

export function createCalendlyClient(_opts: CalendlyClientOptions): CalendlyPort {
  throw new Error('Calendly client not implemented yet');
}
