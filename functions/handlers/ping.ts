import { json, type HttpResult } from '../edge/http.js';

/** GET /health: liveness only; touches nothing. */
export const handler = async (): Promise<HttpResult> => json(200, { ok: true });
