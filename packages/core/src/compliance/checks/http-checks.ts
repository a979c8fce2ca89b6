import type { HttpAppEvidence } from '../evidence';
import { fail, list, missing, notApplicable, pass, strings, type AutomatedCheck } from './check-outcome';

// The HTTP surface: security headers and CSRF protection.

const HSTS_MIN_SEC = 31_536_000; // one year (the HSTS preload list minimum; helmet's default)

function headerProblems(app: HttpAppEvidence, required: readonly string[]): string[] {
  const h = app.securityHeaders;
  const problems: string[] = [];
  if (required.includes('hsts')) {
    const m = /max-age=(\d+)/i.exec(h['strict-transport-security'] ?? '');
    if (!m || Number(m[1]) < HSTS_MIN_SEC)
      problems.push(`Strict-Transport-Security max-age >= ${HSTS_MIN_SEC}`);
  }
  const csp = h['content-security-policy'] ?? '';
  if (required.includes('csp') && csp.trim() === '') problems.push('Content-Security-Policy');
  if (required.includes('nosniff') && (h['x-content-type-options'] ?? '').toLowerCase() !== 'nosniff')
    problems.push('X-Content-Type-Options: nosniff');
  if (required.includes('frame')) {
    const xfo = (h['x-frame-options'] ?? '').toUpperCase();
    if (xfo !== 'DENY' && xfo !== 'SAMEORIGIN' && !/frame-ancestors/i.test(csp))
      problems.push('X-Frame-Options or CSP frame-ancestors');
  }
  if (required.includes('referrer') && (h['referrer-policy'] ?? '').trim() === '')
    problems.push('Referrer-Policy');
  return problems;
}

export const securityHeaders: AutomatedCheck = (bundle, params) => {
  if (!bundle.settings.httpSurface) return notApplicable('The configuration declares no HTTP surface.', []);
  const ev = bundle.http;
  if (!ev || ev.data.apps.length === 0) return missing(bundle, 'http');
  const required = strings(params, 'require', ['hsts', 'csp', 'nosniff', 'frame', 'referrer']);
  const bad = ev.data.apps
    .map((app) => ({ app: app.name, problems: headerProblems(app, required) }))
    .filter((x) => x.problems.length > 0);
  if (bad.length > 0) {
    return fail(
      `Apps missing security headers: ${bad.map((b) => `${b.app} (${b.problems.join(', ')})`).join('; ')}.`,
      [ev],
      'Enable securityHeaders() with its defaults on every app.',
    );
  }
  return pass(
    `All ${ev.data.apps.length} registered apps send the required headers (${required.join(', ')}).`,
    [ev],
  );
};

export const csrf: AutomatedCheck = (bundle) => {
  if (!bundle.settings.httpSurface) return notApplicable('The configuration declares no HTTP surface.', []);
  const ev = bundle.http;
  if (!ev || ev.data.apps.length === 0) return missing(bundle, 'http');
  const off = ev.data.apps.filter((a) => !a.csrf.enabled).map((a) => a.name);
  if (off.length > 0) {
    return fail(
      `CSRF protection is off in: ${list(off)}.`,
      [ev],
      'Enable the csrf() middleware on every app that accepts state-changing browser requests.',
    );
  }
  return pass(
    `CSRF protection is on in all ${ev.data.apps.length} registered apps (${[...new Set(ev.data.apps.map((a) => a.csrf.method ?? 'unspecified'))].join(', ')}).`,
    [ev],
  );
};
