/** Route table entries: a method, a path template (`/x/{uuid}`) and its handler. */
import type { Ctx } from './records.js';
import type { Reply } from './util.js';

export type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  template: string;
  re: RegExp;
  handler: Handler;
}

export const route = (method: string, template: string, handler: Handler): Route => ({
  method,
  template,
  re: new RegExp(`^${template.replace(/\{[a-z_]+\}/g, '([^/]+)')}/?$`),
  handler,
});

/** The route for a request, with its path parameters decoded into ctx.params. */
export function match(routes: Route[], ctx: Ctx): Route | undefined {
  const r = routes.find((x) => x.method === ctx.method && x.re.test(ctx.path));
  if (r) ctx.params = (r.re.exec(ctx.path) ?? []).slice(1).map(decodeURIComponent);
  return r;
}
