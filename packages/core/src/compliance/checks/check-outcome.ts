import type { Evidence, EvidenceBundle, EvidenceSourceName } from '../evidence';

// What an automated check returns, and the small readers the check families share.

/**
 * `not-demonstrated`: the capability exists but nothing shows it works (an empty register, an
 * untested path); scored as a failure, with what would demonstrate it as the remediation.
 */
export type CheckStatus = 'pass' | 'fail' | 'not-demonstrated' | 'not-applicable';

export interface CheckOutcome {
  readonly status: CheckStatus;
  /** One sentence saying what was observed. */
  readonly summary: string;
  /** The evidence the decision rests on (empty only for a failure caused by missing evidence). */
  readonly evidence: readonly Evidence[];
  /** What to do to make the control pass (absent on a pass). */
  readonly remediation?: string;
  /**
   * On a pass: why this pass covers less than the control's declared coverage (e.g. part of it
   * rests on a declaration). The control is then reported as a partial pass whatever its coverage.
   */
  readonly partial?: string;
}

export type CheckParams = Readonly<Record<string, unknown>>;

/** A pure function of collected evidence. It may only pass on evidence it was given. */
export type AutomatedCheck = (bundle: EvidenceBundle, params: CheckParams) => CheckOutcome;

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
/** Tolerated clock skew before a timestamp "from the future" is distrusted. */
export const SKEW_MS = 5 * 60_000;
const LIST_LIMIT = 20;

const SERVICE_HINTS: Record<EvidenceSourceName, string> = {
  classification: 'Register the ClassificationRegistry: kit.register({ classification })',
  keys: 'Register the KeyRing: kit.register({ keyRing })',
  passwords: 'Register the PasswordHasher: kit.register({ passwordHasher })',
  audit: 'Register the AuditLog: kit.register({ auditLog })',
  mfa: 'Register the MfaPolicy: kit.register({ mfaPolicy })',
  authz: 'Register the PolicyEngine: kit.register({ policyEngine })',
  bruteForce: 'Register the BruteForceGuard: kit.register({ bruteForceGuard })',
  threatDetection: 'Register the ThreatDetector: kit.register({ threatDetector })',
  http: 'No HTTP app registered: register each app (the Express / Koa adapters do it) with kit.registerHttpApp(...), or set httpSurface: false if the deployment serves no HTTP',
  consent: 'Register the ConsentManager: kit.register({ consent })',
  dsr: 'Register DataSubjectRequests: kit.register({ dsr })',
  processors: 'Register the ProcessorRegister: kit.register({ processors })',
  breaches: 'Register the BreachRegister: kit.register({ breaches })',
  processing:
    'Register the ProcessingRegister (record of processing activities): kit.register({ processing })',
  dataRetention: 'Register DataRetention: kit.register({ dataRetention })',
  signIn: 'Register each sign-in method (OIDC, SAML, LDAP): kit.registerSignIn(relyingParty)',
  sessions: 'Register the SessionEngine: kit.register({ sessions })',
  tokens: 'Register the TokenService: kit.register({ tokens })',
  passwordPolicy:
    'Configure a password policy on the hasher (createBulwark({ passwords: { policy: {} } }) or new PasswordHasher({ policy })) and register it: kit.register({ passwordHasher })',
};

export function pass(summary: string, evidence: readonly Evidence[]): CheckOutcome {
  return { status: 'pass', summary, evidence };
}

/** A pass on part of what the check asks for; `why` names what rests on a declaration or is unseen. */
export function partialPass(summary: string, evidence: readonly Evidence[], why: string): CheckOutcome {
  return { status: 'pass', summary, evidence, partial: why };
}

export function fail(summary: string, evidence: readonly Evidence[], remediation: string): CheckOutcome {
  return { status: 'fail', summary, evidence, remediation };
}

/** A capability that is configured but not shown to work; scored as a failure. */
export function notDemonstrated(
  summary: string,
  evidence: readonly Evidence[],
  howToDemonstrate: string,
): CheckOutcome {
  return { status: 'not-demonstrated', summary, evidence, remediation: howToDemonstrate };
}

export function notApplicable(summary: string, evidence: readonly Evidence[]): CheckOutcome {
  return { status: 'not-applicable', summary, evidence };
}

/** The failure for evidence that is absent (service not registered) or unreadable. */
export function missing(bundle: EvidenceBundle, name: EvidenceSourceName): CheckOutcome {
  const error = bundle.errors[name];
  if (error !== undefined) {
    return fail(
      `No evidence: ${error}.`,
      [],
      `Fix the ${name} service so it can be read, then re-run the report.`,
    );
  }
  return fail(`No evidence: the ${name} service is not registered.`, [], SERVICE_HINTS[name]);
}

export function list(items: readonly string[]): string {
  const shown = items.slice(0, LIST_LIMIT).join(', ');
  return items.length > LIST_LIMIT ? `${shown} and ${items.length - LIST_LIMIT} more` : shown;
}

/**
 * The problems a check found, one `label: a, b, c` part per group that has items (empty groups
 * left out), joined with `; `; undefined when every group is empty.
 */
export function listProblems(
  groups: readonly (readonly [label: string, items: readonly string[]])[],
): string | undefined {
  const parts = groups
    .filter(([, items]) => items.length > 0)
    .map(([label, items]) => `${label}: ${list(items)}`);
  return parts.length === 0 ? undefined : parts.join('; ');
}

export function time(value: unknown): number {
  return typeof value === 'string' ? Date.parse(value) : Number.NaN;
}

export function num(params: CheckParams, name: string, fallback: number): number {
  const v = params[name] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new TypeError(`check parameter ${name} must be a positive number`);
  }
  return v;
}

export function strings(params: CheckParams, name: string, fallback: readonly string[]): readonly string[] {
  const v = params[name] ?? fallback;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    throw new TypeError(`check parameter ${name} must be an array of strings`);
  }
  return v as string[];
}
