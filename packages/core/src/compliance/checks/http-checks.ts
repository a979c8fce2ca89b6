import type { Evidence, HttpAppEvidence, HttpEvidence } from '../evidence';
import {
  fail,
  list,
  missing,
  notApplicable,
  notDemonstrated,
  partialPass,
  pass,
  strings,
  type AutomatedCheck,
  type CheckOutcome,
} from './check-outcome';

// The HTTP surface, decided on what the mounted bundles saw on real traffic: security headers
// sent, CSRF enforced, TLS negotiated. Configuration or a literal registration is `declared`
// evidence and passes none of these (runCheck enforces it; the checks also say why).

const HSTS_MIN_SEC = 31_536_000; // one year (the HSTS preload list minimum; helmet's default)

const NO_TRAFFIC =
  'Mount the adapter bundle before the routes (app.use(bw)), register it with kit.registerHttpApp(bw), and let it serve traffic before the report (a smoke test after deploy is enough).';

function headerProblems(headers: Readonly<Record<string, string>>, required: readonly string[]): string[] {
  const h = headers;
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

const HEADER_NAMES: Record<string, string> = {
  hsts: 'strict-transport-security',
  csp: 'content-security-policy',
  nosniff: 'x-content-type-options',
  referrer: 'referrer-policy',
};

/** Problems of one observed app: headers missing from some responses, or with a wrong value. */
function observedHeaderProblems(app: HttpAppEvidence, required: readonly string[]): string[] {
  const t = app.traffic!;
  const problems = headerProblems(app.securityHeaders, required);
  for (const key of required) {
    const names = key === 'frame' ? ['x-frame-options', 'content-security-policy'] : [HEADER_NAMES[key]];
    const carried = Math.max(...names.map((n) => (n ? (t.headers[n]?.responses ?? 0) : 0)));
    if (carried > 0 && carried < t.responses) {
      problems.push(`${names[0]} on only ${carried} of ${t.responses} responses`);
    }
  }
  const hsts = t.headers['strict-transport-security'];
  if (required.includes('hsts') && hsts !== undefined && hsts.otherValues > 0) {
    problems.push(`Strict-Transport-Security varied (${hsts.otherValues} responses with another value)`);
  }
  return [...new Set(problems)];
}

interface AppsView {
  readonly ev: Evidence<HttpEvidence>;
  readonly observed: HttpAppEvidence[];
  /** Apps registered as literals / configuration. */
  readonly declared: string[];
  /** Observed apps whose bundle served no request yet. */
  readonly idle: string[];
}

/** The registered apps split by what their evidence can show; an outcome when there is nothing to judge. */
function apps(bundle: Parameters<AutomatedCheck>[0]): AppsView | CheckOutcome {
  if (!bundle.settings.httpSurface) return notApplicable('The configuration declares no HTTP surface.', []);
  const ev = bundle.http;
  if (!ev || ev.data.apps.length === 0) return missing(bundle, 'http');
  const declared = ev.data.apps
    .filter((a) => a.provenance !== 'observed' || a.traffic === undefined)
    .map((a) => a.name);
  const observed = ev.data.apps.filter((a) => a.provenance === 'observed' && a.traffic !== undefined);
  const idle = observed.filter((a) => a.traffic!.requests === 0).map((a) => a.name);
  if (declared.length > 0) {
    return notDemonstrated(
      `Apps registered as declared configuration, not observed on traffic: ${list(declared)}.`,
      [ev],
      'Register the adapter bundle itself (kit.registerHttpApp(bw) or () => bw.evidence()), not a literal object.',
    );
  }
  if (idle.length > 0) {
    return notDemonstrated(
      `Apps whose Bulwark bundle has served no request (never mounted, or mounted after the routes): ${list(idle)}.`,
      [ev],
      NO_TRAFFIC,
    );
  }
  return { ev, observed, declared, idle };
}

function isOutcome(x: AppsView | CheckOutcome): x is CheckOutcome {
  return (x as CheckOutcome).status !== undefined;
}

export const securityHeaders: AutomatedCheck = (bundle, params) => {
  const view = apps(bundle);
  if (isOutcome(view)) return view;
  const required = strings(params, 'require', ['hsts', 'csp', 'nosniff', 'frame', 'referrer']);
  const bad = view.observed
    .map((app) => ({ app: app.name, problems: observedHeaderProblems(app, required) }))
    .filter((x) => x.problems.length > 0);
  if (bad.length > 0) {
    return fail(
      `Responses missing security headers: ${bad.map((b) => `${b.app} (${b.problems.join(', ')})`).join('; ')}.`,
      [view.ev],
      'Enable securityHeaders() with its defaults on every app, mounted before the routes, and do not remove its headers later.',
    );
  }
  const responses = view.observed.reduce((n, a) => n + a.traffic!.responses, 0);
  return pass(
    `All ${responses} responses observed from ${view.observed.length} apps carried the required headers (${required.join(', ')}).`,
    [view.ev],
  );
};

export const csrf: AutomatedCheck = (bundle) => {
  const view = apps(bundle);
  if (isOutcome(view)) return view;
  const off: string[] = [];
  const unseen: string[] = [];
  const enforced: string[] = [];
  let bearerOnly = 0;
  for (const app of view.observed) {
    const t = app.traffic!;
    const cookieUnsafe = t.csrf.unsafeWithCookies;
    const decisions = t.csrf.accepted + t.csrf.refused;
    if (!app.csrf.enabled) {
      // Without cookie-authenticated state changes there is nothing to forge.
      if (cookieUnsafe === 0 && t.auth.cookie === 0 && t.auth.bearer > 0) bearerOnly++;
      else off.push(`${app.name} (${cookieUnsafe} unsafe requests with cookies)`);
    } else if (decisions === 0) {
      if (cookieUnsafe === 0 && t.auth.cookie === 0 && t.auth.bearer > 0) bearerOnly++;
      else unseen.push(app.name);
    } else {
      enforced.push(`${app.name} (${t.csrf.refused} refused, ${t.csrf.accepted} with a valid token)`);
    }
  }
  if (off.length > 0) {
    return fail(
      `CSRF protection is off in apps that take cookie-carrying requests: ${list(off)}.`,
      [view.ev],
      'Enable the csrf option of the bundle on every app that accepts state-changing browser requests.',
    );
  }
  if (unseen.length > 0) {
    return notDemonstrated(
      `CSRF protection is configured but no decision on an unsafe request was observed in: ${list(unseen)}.`,
      [view.ev],
      'Exercise a state-changing route after deploy (a request without a token must be refused with 403).',
    );
  }
  if (enforced.length === 0) {
    return notApplicable(
      `The observed authentication of all ${bearerOnly} apps is bearer-only (no cookies): CSRF does not apply.`,
      [view.ev],
    );
  }
  return pass(
    `CSRF enforcement observed on unsafe requests: ${enforced.join('; ')}${bearerOnly > 0 ? `; ${bearerOnly} bearer-only apps` : ''}.`,
    [view.ev],
  );
};

const TLS_PROTOCOLS = ['TLSv1.2', 'TLSv1.3'];
/**
 * Cipher families accepted for TLS 1.2 (TLS 1.3 suites are all AEAD): ECDHE key exchange with an
 * AEAD cipher, the suites NIST SP 800-52r2 and PCI DSS v4 "strong cryptography" guidance allow.
 */
const STRONG_CIPHER =
  /^(TLS_AES_(128|256)_GCM_SHA(256|384)|TLS_CHACHA20_POLY1305_SHA256|TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256))$/;

export const transportSecurity: AutomatedCheck = (bundle, params) => {
  const view = apps(bundle);
  if (isOutcome(view)) return view;
  const protocols = strings(params, 'protocols', TLS_PROTOCOLS);
  const plain: string[] = [];
  const weak: string[] = [];
  const forwarded: string[] = [];
  const direct: string[] = [];
  for (const app of view.observed) {
    const t = app.traffic!.tls;
    if (t.plain > 0) plain.push(`${app.name} (${t.plain} of ${app.traffic!.requests} requests)`);
    const badProtocols = Object.keys(t.protocols).filter((p) => !protocols.includes(p));
    const badCiphers = Object.keys(t.ciphers).filter((c) => !STRONG_CIPHER.test(c));
    if (badProtocols.length > 0 || badCiphers.length > 0) {
      weak.push(`${app.name} (${[...badProtocols, ...badCiphers].join(', ')})`);
    }
    if (t.forwarded > 0) forwarded.push(`${app.name} (${t.forwarded} requests)`);
    if (t.direct > 0) {
      direct.push(`${app.name} (${Object.keys(t.protocols).join('/')}, ${Object.keys(t.ciphers).join('/')})`);
    }
  }
  if (plain.length > 0) {
    return fail(
      `Requests arrived over plain HTTP: ${list(plain)}.`,
      [view.ev],
      'Serve only HTTPS: terminate TLS in Node (https.createServer) or behind a proxy listed in trustProxy that sets X-Forwarded-Proto: https, and redirect or refuse plain HTTP before it reaches the app.',
    );
  }
  if (weak.length > 0) {
    return fail(
      `TLS was negotiated with a protocol or cipher outside the allow-list (${protocols.join(', ')}; ECDHE + AEAD suites): ${list(weak)}.`,
      [view.ev],
      "Set the server's minVersion to 'TLSv1.2' and restrict ciphers to ECDHE with AES-GCM or ChaCha20-Poly1305.",
    );
  }
  if (forwarded.length > 0) {
    // The trusted proxy says HTTPS on every such request, but its TLS version and cipher are not
    // observable here: a partial pass when the operator declared the terminator, else not shown.
    const terminator = bundle.settings.tlsTerminator;
    const seen = `HTTPS reported by a trusted proxy (X-Forwarded-Proto: https) in ${list(forwarded)}${direct.length > 0 ? `; TLS observed directly in ${list(direct)}` : ''}`;
    if (terminator === undefined || !protocols.includes(terminator.minVersion)) {
      return notDemonstrated(
        `${seen}; the terminator's protocol and cipher are not observed${terminator === undefined ? ' and no TLS terminator is declared' : ` and the declared terminator accepts ${terminator.minVersion}, outside ${protocols.join(', ')}`}.`,
        [view.ev],
        "Declare the TLS terminator (ComplianceKit option tlsTerminator: { name, minVersion: 'TLSv1.2' }) and attest its configuration, or terminate TLS in Node so it is observed.",
      );
    }
    return partialPass(
      `${seen}.`,
      [view.ev],
      `TLS is terminated by ${terminator.name} (declared: ${terminator.minVersion} or later); its protocol, cipher and certificate are declared, not observed`,
    );
  }
  return pass(`TLS observed on every request: ${list(direct)}.`, [view.ev]);
};
