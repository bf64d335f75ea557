// PLACEHOLDER — replaced by the owning issue's handler. Answers 501 until then.
export const handler = async (): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> => ({
  statusCode: 501,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: 'not_implemented', message: 'connections is not implemented yet' }),
});
