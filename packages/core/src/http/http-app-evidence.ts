import type { HttpAppEvidence } from '../compliance/evidence';

/** The protections an adapter enabled, in the compliance engine's `HttpAppEvidence` shape. */
export function httpAppEvidence(
  name: string,
  securityHeaders: Readonly<Record<string, string>>,
  csrf: { enabled: boolean; method?: string },
): HttpAppEvidence {
  return { name, securityHeaders: { ...securityHeaders }, csrf: { ...csrf }, observedBy: 'config' };
}
