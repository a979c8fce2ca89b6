import { AlertRouter, type AlertRouterOptions } from '../alerts/alert-router';
import type { AuditLog } from '../audit/audit-log';
import type { ThreatDetector } from '../threat/threat-detector';
import type { KeyIntegrityFailure } from '../crypto/key-loader';
import type { AlertsConfig } from './bulwark-config';
import { withClock, type Opened } from './opened';
import { invalid, optionKeys, section } from '../util/options';

// The `alerts` section: one AlertRouter; the detector's violations and the integrity alarms go to it.

const KNOWN_ALERTS = optionKeys<AlertsConfig>({
  channels: true,
  routes: true,
  dedupeSec: true,
  rateLimit: true,
  quietHours: true,
  maxKeys: true,
  spool: true,
  retry: true,
  integrityAlarms: true,
  onError: true,
  shared: true,
});

export function planAlerts(value: unknown): AlertsConfig | undefined {
  const alerts = section(value, 'alerts', KNOWN_ALERTS) as AlertsConfig | undefined;
  if (alerts !== undefined && !Array.isArray(alerts.channels)) {
    throw invalid('alerts.channels', 'an array of alert channels', alerts.channels);
  }
  return alerts;
}

export async function openAlerts(
  config: AlertsConfig,
  clock: (() => Date) | undefined,
  opened: Opened[],
): Promise<AlertRouter> {
  const router = await AlertRouter.open({
    ...(config as AlertRouterOptions),
    configPath: 'alerts',
    ...withClock(clock),
  });
  opened.push({ name: 'alerts', close: () => router.close() });
  return router;
}

/** The hooks that turn audit-log integrity failures into critical alerts. */
export function auditAlarms(router: AlertRouter | undefined): {
  onWriteFailure?: AuditHooks['onWriteFailure'];
  onVerifyFailure?: AuditHooks['onVerifyFailure'];
} {
  if (router === undefined || !router.integrityAlarms) return {};
  const raise = (p: Promise<unknown>): void => void p.catch(() => undefined);
  return {
    onWriteFailure(error, health) {
      // Same wording as the default (which is replaced): codes and counts, never event content.
      console.error(
        `bulwark: audit writes are failing (${error.code}); ${health.failed} events lost since start.`,
      );
      raise(
        router.integrityAlarm(
          'audit-write-failure',
          `Audit writes are failing (${error.code}); events are not being recorded.`,
        ),
      );
    },
    onVerifyFailure(report) {
      const truncated =
        report.firstBad?.reason === 'truncated' || report.firstBad?.reason === 'checkpoint-mismatch';
      raise(
        router.integrityAlarm(
          truncated ? 'audit-truncation' : 'audit-verify-failed',
          `Audit log verification failed at seq ${report.firstBad?.seq ?? '?'} (${report.firstBad?.reason ?? 'unknown'}).`,
        ),
      );
    },
  };
}

/**
 * The key ring's integrity hook: a stored key that fails to unwrap (wrong master key, KMS refusal
 * or outage, tampered key store) or a `bw2` envelope whose key commitment does not match raises
 * a critical `integrity.key-unwrap-failed` alert, de-duplicated per key and kind by the router
 * (one alert per dedupe window however many decryptions fail). Key id and version only.
 */
export function keyAlarms(router: AlertRouter | undefined): {
  onIntegrityFailure?: (failure: KeyIntegrityFailure) => void;
  /** Waits for the alarms raised so far (a ring that failed to open: before the router closes). */
  settled(): Promise<void>;
} {
  const pending = new Set<Promise<unknown>>();
  const settled = async (): Promise<void> => {
    await Promise.all([...pending]);
  };
  if (router === undefined || !router.integrityAlarms) return { settled };
  return {
    settled,
    onIntegrityFailure(failure) {
      const version = failure.version !== undefined ? ` v${failure.version}` : '';
      const what =
        failure.kind === 'unwrap'
          ? `Key ${failure.keyId}${version} failed to unwrap (${failure.code}): wrong master key, KMS failure or a tampered key store.`
          : `An envelope of key ${failure.keyId}${version} failed its key commitment check: tampered, or made for another key.`;
      const sent = router
        .integrityAlarm('key-unwrap-failed', what, { keyId: failure.keyId, kind: failure.kind })
        .catch(() => undefined)
        .finally(() => pending.delete(sent));
      pending.add(sent);
    },
  };
}

type AuditHooks = Required<Pick<Parameters<typeof AuditLog.open>[0], 'onWriteFailure' | 'onVerifyFailure'>>;

/** Sends the detector's violations to the router (each one routed, de-duplicated, delivered). */
export function routeViolations(detector: ThreatDetector | undefined, router: AlertRouter | undefined): void {
  if (detector === undefined || router === undefined) return;
  detector.on('violation', (violation) => {
    void router.notifyViolation(violation).catch(() => undefined);
  });
}
