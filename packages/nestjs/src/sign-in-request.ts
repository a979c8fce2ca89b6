/** The request facts a sign-in records (never the credentials): address, user agent, request id. */
export function signInRequest(
  req: Record<string, unknown>,
  ip: string | undefined,
): { ip?: string; userAgent?: string; requestId?: string } {
  const headers = (req.headers ?? {}) as Record<string, unknown>;
  const userAgent = headers['user-agent'];
  return {
    ...(ip !== undefined ? { ip } : {}),
    ...(typeof userAgent === 'string' ? { userAgent } : {}),
    ...(typeof req.requestId === 'string' ? { requestId: req.requestId } : {}),
  };
}
