import { configError } from '../util/options';
import type { ViolationSeverity } from './detection-rule';

/** One weighted reason behind a risk score. */
export interface RiskSignal {
  readonly name: string;
  readonly weight: number;
}

/** An explainable risk score (0-100): the sum of its signals' weights, capped at 100. */
export interface ViolationRisk {
  readonly score: number;
  readonly signals: readonly RiskSignal[];
}

/** Weights of the detector's risk signals (each 0-100). */
export interface RiskWeights {
  /** Base weight by severity. Default low 10, medium 30, high 60, critical 85. */
  severity: Readonly<Record<ViolationSeverity, number>>;
  /** Per triggering audit entry beyond the first (a larger burst is riskier). Default 1. */
  perEntry: number;
  /** Cap of the per-entry signal. Default 15. */
  maxVolume: number;
  /** When the hit names an IP (a remote source rather than one account). Default 5. */
  remoteSource: number;
}

export interface RiskOptions {
  weights?: Partial<Omit<RiskWeights, 'severity'>> & {
    severity?: Partial<Record<ViolationSeverity, number>>;
  };
  /** Violations scoring below this are not raised (tuning away noise). Default 0 (all raised). */
  minScore?: number;
}

const DEFAULT_WEIGHTS: RiskWeights = {
  severity: { low: 10, medium: 30, high: 60, critical: 85 },
  perEntry: 1,
  maxVolume: 15,
  remoteSource: 5,
};

function weight(value: unknown, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    throw configError(path, 'must be a number from 0 to 100');
  }
  return value;
}

/** Validated risk options (errors name `path`). */
export function riskConfig(
  options: RiskOptions | undefined,
  path: string,
): { weights: RiskWeights; minScore: number } {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw configError(path, 'must be { weights?, minScore? }');
  }
  const w = options?.weights ?? {};
  const sev = w.severity ?? {};
  return {
    weights: {
      severity: {
        low: weight(sev.low, DEFAULT_WEIGHTS.severity.low, `${path}.weights.severity.low`),
        medium: weight(sev.medium, DEFAULT_WEIGHTS.severity.medium, `${path}.weights.severity.medium`),
        high: weight(sev.high, DEFAULT_WEIGHTS.severity.high, `${path}.weights.severity.high`),
        critical: weight(
          sev.critical,
          DEFAULT_WEIGHTS.severity.critical,
          `${path}.weights.severity.critical`,
        ),
      },
      perEntry: weight(w.perEntry, DEFAULT_WEIGHTS.perEntry, `${path}.weights.perEntry`),
      maxVolume: weight(w.maxVolume, DEFAULT_WEIGHTS.maxVolume, `${path}.weights.maxVolume`),
      remoteSource: weight(w.remoteSource, DEFAULT_WEIGHTS.remoteSource, `${path}.weights.remoteSource`),
    },
    minScore: weight(options?.minScore, 0, `${path}.minScore`),
  };
}

/**
 * Scores a violation from its severity, the size of the burst behind it, whether it names a
 * remote source, and the rule's own signals (`RuleHit.signals`). Every weight is listed, so a
 * reviewer sees why a score is what it is.
 */
export function scoreViolation(
  hit: {
    severity: ViolationSeverity;
    entries: readonly number[];
    subject?: Readonly<Record<string, string>>;
    signals?: readonly RiskSignal[];
  },
  weights: RiskWeights,
): ViolationRisk {
  const signals: RiskSignal[] = [
    { name: `severity.${hit.severity}`, weight: weights.severity[hit.severity] },
  ];
  const volume = Math.min(weights.maxVolume, Math.max(0, hit.entries.length - 1) * weights.perEntry);
  if (volume > 0) signals.push({ name: 'volume', weight: volume });
  if (hit.subject?.ip !== undefined && weights.remoteSource > 0) {
    signals.push({ name: 'remote-source', weight: weights.remoteSource });
  }
  for (const s of hit.signals ?? []) {
    if (s !== null && typeof s === 'object' && typeof s.name === 'string' && Number.isFinite(s.weight)) {
      signals.push({ name: s.name.slice(0, 64), weight: Math.max(0, Math.min(100, s.weight)) });
    }
  }
  const score = Math.min(100, Math.round(signals.reduce((sum, s) => sum + s.weight, 0)));
  return Object.freeze({ score, signals: Object.freeze(signals.map((s) => Object.freeze(s))) });
}
