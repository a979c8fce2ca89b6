import { BruteForceGuard, type BruteForceGuardOptions } from '../threat/brute-force-guard';
import type { LockoutAuditSink } from '../threat/lockout-audit';
import { ThreatDetector, type ThreatDetectorOptions } from '../threat/threat-detector';
import type { ThreatConfig } from './bulwark-config';
import { checkSecretBytes, readSecretBytes } from './config-input';
import { configError, hasMethods, invalid, section, optionKeys } from '../util/options';

// The `threat` section: the brute-force guard and the detector over the audit stream.

const KNOWN_THREAT = optionKeys<ThreatConfig>({ bruteForce: true, detector: true });
const KNOWN_BRUTE_FORCE = optionKeys<NonNullable<ThreatConfig['bruteForce']>>({
  ip: true,
  account: true,
  ipAccount: true,
  lockout: true,
  knownClientTtlSec: true,
  backoffFactor: true,
  strikeWindowSec: true,
  redis: true,
  keyPrefix: true,
  accountKey: true,
  ipv6PrefixBits: true,
  normalizeAccount: true,
  onStoreUnavailable: true,
  readyTimeoutMs: true,
});
const KNOWN_DETECTOR = optionKeys<NonNullable<ThreatConfig['detector']>>({
  onViolation: true,
  onError: true,
  failedLogins: true,
  deniedAccess: true,
  privilegeChanges: true,
  massExport: true,
  breakGlass: true,
  offHours: true,
  rules: true,
  maxKeysPerRule: true,
  maxEntriesPerKey: true,
  actor: true,
  category: true,
  windows: true,
  risk: true,
});

export interface ThreatPlan {
  bruteForce?: { options: ThreatConfig['bruteForce'] & object };
  detector?: ThreatDetector;
}

export function planThreat(value: unknown, hasAudit: boolean): ThreatPlan {
  const threat = section(value, 'threat', KNOWN_THREAT);
  if (threat === undefined) return {};
  const out: ThreatPlan = {};
  const bf = section(threat.bruteForce, 'threat.bruteForce', KNOWN_BRUTE_FORCE);
  if (bf !== undefined) {
    if (bf.accountKey !== undefined) checkSecretBytes(bf.accountKey, 'threat.bruteForce.accountKey', 32);
    if (bf.redis !== undefined) {
      if (!hasMethods(bf.redis, 'multi')) {
        throw invalid('threat.bruteForce.redis', 'an ioredis / node-redis client', bf.redis);
      }
      if (bf.accountKey === undefined) {
        throw configError(
          'threat.bruteForce.accountKey',
          'is required with redis: every instance must hash account names with the same key',
        );
      }
    }
    // Validates the limits now; the real guard is built when opening (the key may need reading,
    // and the Redis client is only handed to one guard).
    new BruteForceGuard({
      ...(bf as BruteForceGuardOptions),
      redis: undefined,
      accountKey: undefined,
      configPath: 'threat.bruteForce',
    });
    out.bruteForce = { options: bf as NonNullable<ThreatConfig['bruteForce']> };
  }
  const detector = section(threat.detector, 'threat.detector', KNOWN_DETECTOR);
  if (detector !== undefined) {
    if (!hasAudit) {
      throw configError(
        'threat.detector',
        'requires the audit section: its rules run over the audit stream and violations are written back to it',
      );
    }
    out.detector = new ThreatDetector({
      ...(detector as ThreatDetectorOptions),
      configPath: 'threat.detector',
    });
  }
  return out;
}

/** Builds the brute-force guard, reading its account key; lockouts go to `audit` when given. */
export async function openBruteForce(
  bruteForce: NonNullable<ThreatPlan['bruteForce']>,
  audit?: LockoutAuditSink,
): Promise<BruteForceGuard> {
  const o = bruteForce.options;
  const accountKey =
    o.accountKey === undefined
      ? undefined
      : await readSecretBytes(o.accountKey, 'threat.bruteForce.accountKey', 32);
  // The Redis client stays the app's: the guard never closes it, and neither does close().
  return new BruteForceGuard({
    ...(o as BruteForceGuardOptions),
    accountKey,
    ...(audit !== undefined ? { audit } : {}),
    configPath: 'threat.bruteForce',
  });
}
