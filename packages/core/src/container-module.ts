import { ContainerModule } from 'inversify';
import type { Bulwark } from './bulwark';

/**
 * Service identifiers under which `bulwarkContainerModule` binds the services. Symbols from the
 * global registry, so two copies of @bulwark/core in one app still agree on them.
 */
export const BULWARK_TYPES = {
  Bulwark: Symbol.for('bulwark.Bulwark'),
  KeyRing: Symbol.for('bulwark.KeyRing'),
  PasswordHasher: Symbol.for('bulwark.PasswordHasher'),
  TokenService: Symbol.for('bulwark.TokenService'),
  AuditLog: Symbol.for('bulwark.AuditLog'),
  PolicyEngine: Symbol.for('bulwark.PolicyEngine'),
  /** The PolicyEngine again, for code that depends on the `Authorizer` interface only. */
  Authorizer: Symbol.for('bulwark.Authorizer'),
  MfaPolicy: Symbol.for('bulwark.MfaPolicy'),
  TotpFactor: Symbol.for('bulwark.TotpFactor'),
  RecoveryCodes: Symbol.for('bulwark.RecoveryCodes'),
  BruteForceGuard: Symbol.for('bulwark.BruteForceGuard'),
  ThreatDetector: Symbol.for('bulwark.ThreatDetector'),
  ClassificationRegistry: Symbol.for('bulwark.ClassificationRegistry'),
  ConsentManager: Symbol.for('bulwark.ConsentManager'),
  DataSubjectRequests: Symbol.for('bulwark.DataSubjectRequests'),
  ProcessorRegister: Symbol.for('bulwark.ProcessorRegister'),
  ProcessingRegister: Symbol.for('bulwark.ProcessingRegister'),
  DataRetention: Symbol.for('bulwark.DataRetention'),
  BreachRegister: Symbol.for('bulwark.BreachRegister'),
  ComplianceKit: Symbol.for('bulwark.ComplianceKit'),
  SessionEngine: Symbol.for('bulwark.SessionEngine'),
  AccountLifecycle: Symbol.for('bulwark.AccountLifecycle'),
  AlertRouter: Symbol.for('bulwark.AlertRouter'),
} as const;

/** Which Bulwark member each optional token binds (Bulwark and PasswordHasher are always bound). */
const OPTIONAL: readonly (readonly [keyof typeof BULWARK_TYPES, keyof Bulwark])[] = [
  ['KeyRing', 'keyRing'],
  ['TokenService', 'tokens'],
  ['AuditLog', 'auditLog'],
  ['PolicyEngine', 'policyEngine'],
  ['Authorizer', 'policyEngine'],
  ['MfaPolicy', 'mfaPolicy'],
  ['TotpFactor', 'totp'],
  ['RecoveryCodes', 'recoveryCodes'],
  ['BruteForceGuard', 'bruteForce'],
  ['ThreatDetector', 'threatDetector'],
  ['ClassificationRegistry', 'classification'],
  ['ConsentManager', 'consent'],
  ['DataSubjectRequests', 'dsr'],
  ['ProcessorRegister', 'processors'],
  ['ProcessingRegister', 'processing'],
  ['DataRetention', 'dataRetention'],
  ['BreachRegister', 'breaches'],
  ['ComplianceKit', 'compliance'],
  ['SessionEngine', 'sessions'],
  ['AccountLifecycle', 'accounts'],
  ['AlertRouter', 'alerts'],
];

/**
 * An inversify ContainerModule binding an already created Bulwark (see `createBulwark`) and each
 * of its services as constant values. Services that are not configured are not bound, so
 * `@inject(BULWARK_TYPES.TokenService)` fails at resolution time instead of yielding undefined.
 * The container does not own the services: call `bulwark.close()` on shutdown.
 *
 * ```ts
 * const bulwark = await createBulwark(config);
 * const container = new Container();
 * await container.load(bulwarkContainerModule(bulwark));
 * ```
 */
export function bulwarkContainerModule(bulwark: Bulwark): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<Bulwark>(BULWARK_TYPES.Bulwark).toConstantValue(bulwark);
    bind(BULWARK_TYPES.PasswordHasher).toConstantValue(bulwark.passwords);
    for (const [token, member] of OPTIONAL) {
      const service = bulwark[member];
      if (service !== undefined) bind(BULWARK_TYPES[token]).toConstantValue(service);
    }
  });
}
