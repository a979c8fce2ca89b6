import type { Authorizer } from '../authz/authorizer';
import type { BearerRevocationCheck, BearerTokenVerifier } from './bearer-authenticator';
import type { BruteForceLimiter } from './brute-force-gate';
import type { ConsentChecker } from './require-consent-check';
import type { PrincipalMfaPolicy } from './step-up';
import type { PrivacyApiOptions } from './privacy-api';
import type { RequestAuditLog } from './request-auditor';

/**
 * The services the HTTP adapters plug in. Every member is optional: a middleware that needs a
 * missing one fails at start-up with BulwarkConfigError. `createBulwark()`'s result fits
 * (it has `tokens`); add `authorizer` (a PolicyEngine), `auditLog`, `consent`, `dsr`, `bruteForce`.
 */
export interface BulwarkHttpKit {
  tokens?: BearerTokenVerifier;
  authorizer?: Authorizer;
  auditLog?: RequestAuditLog;
  /** A ConsentManager: requireConsent needs check/purpose; privacyRouter also grant/withdraw/listPurposes. */
  consent?: ConsentChecker & Partial<NonNullable<PrivacyApiOptions['consent']>>;
  /** DataSubjectRequests, for privacyRouter's export / erasure / status endpoints. */
  dsr?: PrivacyApiOptions['dsr'];
  bruteForce?: BruteForceLimiter;
  /** Token revocations (`createBulwark`'s `revocation`): the authenticate step refuses revoked tokens. */
  revocation?: BearerRevocationCheck;
  /** An MfaPolicy: `authorize()` enforces it on every route it guards (createBulwark's `mfa.policy`). */
  mfaPolicy?: PrincipalMfaPolicy;
}
