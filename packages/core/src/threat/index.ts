// Threat: brute-force defence and detection rules over the audit stream.
export {
  BruteForceGuard,
  type BruteForceGuardOptions,
  type BruteForceLimit,
  type BruteForceAttempt,
  type BruteForceDecision,
  type BruteForceScope,
  type BruteForceRedisClient,
  type BruteForceGuardDescription,
  type BruteForceGuardStats,
  type BruteForceStoreUnavailablePolicy,
  type BruteForceLockout,
  type BruteForceReservation,
  type BruteForceReservationResult,
  type BruteForceReserveOptions,
} from './brute-force-guard';
export {
  ThreatDetector,
  SECURITY_VIOLATION_ACTION,
  PRIVILEGE_ACTIONS,
  type SecurityViolation,
  type ViolationSeverity,
  type DetectionRule,
  type WindowedDetectionRule,
  type WindowState,
  type RuleHit,
  type RuleState,
  type ThreatDetectorOptions,
  type FailedLoginRuleOptions,
  type DeniedAccessRuleOptions,
  type PrivilegeChangeRuleOptions,
  type MassExportRuleOptions,
  type BreakGlassRuleOptions,
  type OffHoursRuleOptions,
  type BurstOptions,
} from './threat-detector';
export {
  RedisDetectionWindowStore,
  type DetectionWindowStore,
  type DetectionRedisClient,
} from './detection-window-store';
export type { BurstResult } from './detection-rule';
export type { ViolationRisk, RiskSignal, RiskOptions, RiskWeights } from './risk-score';
