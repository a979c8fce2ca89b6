import { BREAK_GLASS_STORE_METHODS } from '../authz/break-glass-store';
import { REGISTER_STORE_METHODS } from '../privacy/register-store';
import type { AuditLog } from '../audit/audit-log';
import type { RetentionPolicyOptions } from '../audit/retention-policy';
import type { PolicyEngine } from '../authz/policy-engine';
import { ComplianceKit } from '../compliance/compliance-kit';
import { PasswordHasher } from '../crypto/password-hasher';
import { defaultClassificationRegistry } from '../privacy/classification-registry';
import type { IdentityVerifier } from '../privacy/data-subject-requests';
import type { BruteForceGuard } from '../threat/brute-force-guard';
import { TokenService } from '../tokens/token-service';
import { openAudit, planAudit } from './audit';
import { openAuthz, planAuthz, type AuthzPlan } from './authz';
import type {
  AuditConfig,
  Bulwark,
  BulwarkConfig,
  BulwarkStores,
  ComplianceConfig,
  PrivacyConfig,
  AlertsConfig,
} from './bulwark-config';
import {
  configError,
  hasMethods,
  invalid,
  isPlainObject,
  optionalFunction,
  rejectUnknown,
  section,
  optionKeys,
} from '../util/options';
import { openKeys, planKeys, type KeysPlan } from './keys';
import { openMfa, planMfa, type MfaPlan } from './mfa';
import { closeAll, withClock, type Opened } from './opened';
import { openPrivacy, planPrivacy } from './privacy';
import { assertProductionReady, isProduction } from './production';
import { openBruteForce, planThreat, type ThreatPlan } from './threat';
import { openRevocation, planRevocation, type RevocationPlan } from './revocation';
import { REVOCATION_STORE_METHODS } from '../tokens/revocation-store';
import type { TokenRevocation } from '../tokens/token-revocation';
import { openSessions, planSessions, type AccountsConfig, type SessionsConfig } from './sessions';
import { auditAlarms, keyAlarms, openAlerts, planAlerts, routeViolations } from './alerts';
import type { AlertRouter } from '../alerts/alert-router';

// createBulwark: checks every section (each engine's constructor validates its own options under
// the section's path), then opens and wires them. Each section lives in its own file here.

const KNOWN_TOP_LEVEL = optionKeys<BulwarkConfig>({
  keys: true,
  passwords: true,
  tokens: true,
  audit: true,
  authz: true,
  mfa: true,
  threat: true,
  privacy: true,
  compliance: true,
  clock: true,
  stores: true,
  production: true,
  revocation: true,
  sessions: true,
  accounts: true,
  alerts: true,
});
const STORE_METHODS: Record<keyof BulwarkStores, readonly string[]> = {
  keys: ['loadKeys', 'insertKeyVersion'],
  consent: ['append', 'latest', 'history'],
  dsr: ['save', 'get', 'list'],
  mfa: ['getTotp', 'getRecoveryCodes'],
  breakGlass: BREAK_GLASS_STORE_METHODS,
  breaches: REGISTER_STORE_METHODS,
  processors: REGISTER_STORE_METHODS,
  processing: REGISTER_STORE_METHODS,
  retentionRules: REGISTER_STORE_METHODS,
  legalHolds: REGISTER_STORE_METHODS,
  auditLegalHolds: REGISTER_STORE_METHODS,
  retentionRuns: REGISTER_STORE_METHODS,
  attestations: ['append', 'list'],
  revocation: REVOCATION_STORE_METHODS,
};

/** Checks `stores` (each a store of its kind) and fills the sections that name no store of their own. */
function applyStores(config: BulwarkConfig): { config: BulwarkConfig; stores: BulwarkStores } {
  const stores = config.stores;
  if (stores === undefined) return { config, stores: {} };
  if (!isPlainObject(stores as unknown)) throw invalid('stores', 'an object of stores', stores);
  rejectUnknown(stores as Record<string, unknown>, Object.keys(STORE_METHODS), 'stores.');
  for (const [name, methods] of Object.entries(STORE_METHODS)) {
    const store = (stores as Record<string, unknown>)[name];
    if (store !== undefined && !hasMethods(store, ...methods)) {
      throw invalid(`stores.${name}`, `a store with ${methods.join(', ')}`, store);
    }
  }
  const out: BulwarkConfig = { ...config };
  if (isPlainObject(config.keys as unknown) && config.keys!.store === undefined && stores.keys) {
    out.keys = { ...config.keys!, store: stores.keys };
  }
  if (isPlainObject(config.mfa as unknown) && config.mfa!.store === undefined && stores.mfa) {
    out.mfa = { ...config.mfa!, store: stores.mfa };
  }
  const privacy = config.privacy;
  if (isPlainObject(privacy as unknown)) {
    const p = { ...privacy! };
    if (isPlainObject(p.consent as unknown) && p.consent!.store === undefined && stores.consent) {
      p.consent = { ...p.consent!, store: stores.consent };
    }
    if (isPlainObject(p.dsr as unknown) && p.dsr!.store === undefined && stores.dsr) {
      p.dsr = { ...p.dsr!, store: stores.dsr };
    }
    out.privacy = p;
  }
  const audit = config.audit;
  if (isPlainObject(audit as unknown) && stores.auditLegalHolds) {
    const r = audit!.retention;
    if (
      r === undefined ||
      (isPlainObject(r as unknown) && (r as RetentionPolicyOptions).holdStore === undefined)
    ) {
      out.audit = { ...audit!, retention: { ...(r ?? {}), holdStore: stores.auditLegalHolds } };
    }
  }
  const compliance = config.compliance;
  if (isPlainObject(compliance as unknown) && stores.attestations) {
    const a = compliance!.attestations;
    if (a === undefined || (isPlainObject(a as unknown) && a.store === undefined)) {
      out.compliance = { ...compliance!, attestations: { ...(a ?? {}), store: stores.attestations } };
    }
  }
  return { config: out, stores };
}
const KNOWN_COMPLIANCE = optionKeys<ComplianceConfig>({
  privilegedRoles: true,
  httpSurface: true,
  tlsTerminator: true,
  auditCategories: true,
  grantProbe: true,
  catalogue: true,
  attestations: true,
});

/** What a section needs opened: checked synchronously before anything is opened. */
interface Plan extends ThreatPlan {
  clock?: () => Date;
  keys?: KeysPlan;
  passwords: PasswordHasher;
  tokens?: TokenService;
  revocation?: RevocationPlan;
  audit?: AuditConfig;
  authz?: AuthzPlan;
  mfa?: MfaPlan;
  privacy?: PrivacyConfig;
  compliance?: ComplianceConfig;
  stores: BulwarkStores;
  sessions?: SessionsConfig;
  accounts?: AccountsConfig;
  alerts?: AlertsConfig;
}

/** Validates the whole config synchronously; nothing is opened yet. */
function plan(given: BulwarkConfig): Plan {
  if (!isPlainObject(given as unknown)) throw invalid('config', 'an object', given);
  rejectUnknown(given as Record<string, unknown>, KNOWN_TOP_LEVEL, '');
  if (given.production !== undefined && typeof given.production !== 'boolean') {
    throw invalid('production', 'a boolean', given.production);
  }
  if (isProduction(given)) assertProductionReady(given);
  const { config, stores } = applyStores(given);
  optionalFunction(config.clock, 'clock');
  const clock = config.clock;
  const keys = planKeys(config.keys);
  if (config.passwords !== undefined && !isPlainObject(config.passwords)) {
    throw invalid('passwords', 'an object', config.passwords);
  }
  if (config.tokens !== undefined && !isPlainObject(config.tokens)) {
    throw invalid('tokens', 'an object', config.tokens);
  }
  // Constructors validate their own options eagerly and name paths under these prefixes.
  const passwords = new PasswordHasher({ configPath: 'passwords', ...config.passwords });
  const tokens = config.tokens ? new TokenService({ configPath: 'tokens', ...config.tokens }) : undefined;
  const revocation = planRevocation(config.revocation, tokens !== undefined, stores.revocation);
  const audit = planAudit(config.audit);
  const authz = planAuthz(config.authz, audit !== undefined);
  const threat = planThreat(config.threat, audit !== undefined);
  const mfa = planMfa(config.mfa, keys !== undefined, clock);
  const privacy = planPrivacy(config.privacy);
  const compliance = section(config.compliance, 'compliance', KNOWN_COMPLIANCE) as
    ComplianceConfig | undefined;
  if (compliance !== undefined) new ComplianceKit({ ...compliance, configPath: 'compliance' });
  const sessions = planSessions(config.sessions, config.accounts);
  const alerts = planAlerts(config.alerts);
  return {
    clock,
    keys,
    passwords,
    tokens,
    revocation,
    audit,
    authz,
    mfa,
    ...threat,
    privacy,
    compliance,
    stores,
    ...sessions,
    alerts,
  };
}

/**
 * Validates the whole config first (a bad value throws BulwarkConfigError naming its path before
 * anything is opened), then opens and wires the services in section order: keys, audit, authz,
 * threat, mfa, privacy, compliance. A failure while opening (an unreadable policy file, a locked
 * audit file) closes what was already opened, newest first, and rethrows.
 */
export async function createBulwark(config: BulwarkConfig = {}): Promise<Bulwark> {
  const p = plan(config);
  const opened: Opened[] = [];
  try {
    return await open(p, opened);
  } catch (err) {
    await closeAll(opened).catch((closeErr: unknown) => {
      process.emitWarning(
        `Bulwark: closing after a failed start-up also failed: ${(closeErr as Error)?.message ?? String(closeErr)}`,
        'BulwarkCloseWarning',
      );
    });
    throw err;
  }
}

async function open(p: Plan, opened: Opened[]): Promise<Bulwark> {
  const clock = p.clock;
  // Opened before the key ring and the audit log, so that a key that fails to unwrap and the log's
  // integrity failures raise alarms from the start.
  const alerts: AlertRouter | undefined = p.alerts ? await openAlerts(p.alerts, clock, opened) : undefined;
  const keyAlarm = keyAlarms(alerts);
  const keyRing = p.keys
    ? await openKeys(p.keys, opened, { onIntegrityFailure: keyAlarm.onIntegrityFailure }).catch(
        async (err: unknown) => {
          await keyAlarm.settled(); // the alert goes out before the failed start-up closes the router
          throw err;
        },
      )
    : undefined;
  let auditLog: AuditLog | undefined;
  let auditHmacKey: Uint8Array | undefined;
  if (p.audit)
    ({ log: auditLog, hmacKey: auditHmacKey } = await openAudit(
      p.audit,
      p.detector,
      clock,
      opened,
      auditAlarms(alerts),
    ));
  if (auditLog !== undefined) alerts?.attach(auditLog);
  if (auditLog !== undefined) keyRing?.attach(auditLog);
  routeViolations(p.detector, alerts);

  const revocation: TokenRevocation | undefined =
    p.revocation && p.tokens ? openRevocation(p.revocation, p.tokens, auditLog, clock, opened) : undefined;

  const policyEngine: PolicyEngine | undefined = p.authz
    ? await openAuthz(p.authz, auditLog, clock, p.stores.breakGlass)
    : undefined;
  if (policyEngine !== undefined) closeGiven(p.stores, ['breakGlass'], opened);
  const bruteForce: BruteForceGuard | undefined = p.bruteForce
    ? await openBruteForce(p.bruteForce, auditLog)
    : undefined;
  const { totp, recoveryCodes } = p.mfa
    ? openMfa(
        p.mfa.config,
        { keyRing, hasher: p.passwords, guard: bruteForce, clock, audit: auditLog },
        opened,
      )
    : {};

  const privacy = p.privacy
    ? await openPrivacy(p.privacy, { keyRing, auditLog, auditHmacKey, clock, stores: p.stores }, opened)
    : undefined;
  if (privacy !== undefined)
    closeGiven(
      p.stores,
      [
        'breaches',
        'processors',
        'processing',
        'retentionRules',
        'legalHolds',
        'auditLegalHolds',
        'retentionRuns',
      ],
      opened,
    );

  const { sessions, accounts } = openSessions(
    p,
    {
      passwords: p.passwords,
      ...(auditLog ? { auditLog } : {}),
      ...(bruteForce ? { bruteForce } : {}),
      ...withClock(clock),
    },
    opened,
  );

  let compliance: ComplianceKit | undefined;
  if (p.compliance) {
    compliance = new ComplianceKit({
      ...p.compliance,
      configPath: 'compliance',
      ...withClock(clock),
    }).register({
      // The decorators of @bulwark/typeorm fill the default registry even without a privacy section.
      classification: privacy?.classification ?? defaultClassificationRegistry,
      keyRing,
      passwordHasher: p.passwords,
      auditLog,
      mfaPolicy: p.mfa?.policy,
      policyEngine,
      bruteForceGuard: bruteForce,
      threatDetector: p.detector,
      alertRouter: alerts,
      consent: privacy?.consent,
      dsr: privacy?.dsr,
      processors: privacy?.processors,
      breaches: privacy?.breaches,
      processing: privacy?.processing,
      dataRetention: privacy?.dataRetention,
      sessions,
      tokens: p.tokens,
    });
  }

  let closing: Promise<void> | undefined;
  const bulwark: Bulwark = {
    keyRing,
    passwords: p.passwords,
    tokens: p.tokens,
    revocation,
    auditLog,
    policyEngine,
    // With shared grants the adapters must ask authorize(): check() cannot read the store.
    authorizer:
      policyEngine !== undefined && p.stores.breakGlass !== undefined
        ? Object.freeze({
            check: policyEngine.authorize.bind(policyEngine),
            permittedFields: policyEngine.permittedFields.bind(policyEngine),
            // So a denial still explains itself (audit entry, development 403 body).
            explain: policyEngine.explain.bind(policyEngine),
          })
        : policyEngine,
    mfaPolicy: p.mfa?.policy,
    totp,
    recoveryCodes,
    bruteForce,
    threatDetector: p.detector,
    alerts,
    classification: privacy?.classification,
    consent: privacy?.consent,
    dsr: privacy?.dsr,
    processors: privacy?.processors,
    processing: privacy?.processing,
    dataRetention: privacy?.dataRetention,
    breaches: privacy?.breaches,
    compliance,
    sessions,
    accounts,
    setIdentityVerifier(verifier: IdentityVerifier): void {
      if (privacy?.verifier === undefined) {
        throw configError('privacy.dsr', 'is not configured: there are no data-subject requests to verify');
      }
      privacy.verifier.set(verifier);
    },
    close(): Promise<void> {
      closing ??= closeAll(opened);
      return closing;
    },
  };
  return Object.freeze(bulwark);
}

/** Stores passed in `stores` belong to Bulwark once a section uses them: `close()` closes them too. */
function closeGiven<K extends keyof BulwarkStores>(
  stores: BulwarkStores,
  names: readonly K[],
  opened: Opened[],
): void {
  for (const name of names) {
    const store = stores[name] as { close?(): Promise<void> | void } | undefined;
    if (store !== undefined) opened.push({ name: `stores.${name}`, close: () => store.close?.() });
  }
}
