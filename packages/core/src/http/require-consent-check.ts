import { configError } from '../util/options';
import { BulwarkConfigError, BulwarkConsentError, ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';

/** What requireConsent needs: `ConsentManager` fits. */
export interface ConsentChecker {
  purpose(purposeId: string): unknown;
  check(
    subjectId: string,
    purposeId: string,
  ): Promise<{ granted: boolean; state: string; needsRenewal: boolean }>;
}

/** Validates at start-up that the purpose exists, so a typo fails the boot, not every request. */
export function checkConsentPurpose(
  consent: ConsentChecker | undefined,
  purposeId: unknown,
  path = 'requireConsent',
): string {
  if (consent === undefined || typeof consent.check !== 'function') {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path} needs kit.consent (a ConsentManager)`, {
      path: `${path}.consent`,
    });
  }
  if (typeof purposeId !== 'string' || purposeId.length === 0) {
    throw configError(`${path}.purpose`, 'must be a purpose id');
  }
  try {
    consent.purpose(purposeId);
  } catch (err) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      `${path}.purpose ${purposeId} is not a registered purpose`,
      {
        path: `${path}.purpose`,
      },
      { cause: err },
    );
  }
  return purposeId;
}

/**
 * Throws unless the principal has a standing consent to the purpose's current valid version:
 * 401 without a principal, 403 ERR_CONSENT_REQUIRED (with the purpose id and state) otherwise.
 */
export async function requireConsentFor(
  consent: ConsentChecker,
  principal: HttpPrincipal | undefined,
  purposeId: string,
): Promise<void> {
  if (principal === undefined) {
    throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'This resource needs a bearer token.');
  }
  const status = await consent.check(principal.id, purposeId);
  if (!status.granted) {
    throw new BulwarkConsentError(
      ErrorCodes.CONSENT_REQUIRED,
      `Consent to purpose ${purposeId} is required.`,
      {
        purposeId,
        state: status.state,
        needsRenewal: status.needsRenewal,
      },
    );
  }
}

/**
 * Start-up checks of `requireConsent(purpose, { consent })`: with a ConsentManager the purpose
 * must be registered; without one (the bundle's is used per request) it must at least be an id.
 */
export function checkRequireConsent(purposeId: unknown, consent: ConsentChecker | undefined): void {
  if (consent !== undefined) checkConsentPurpose(consent, purposeId);
  else if (typeof purposeId !== 'string' || purposeId.length === 0) {
    throw configError('requireConsent.purpose', 'must be a purpose id');
  }
}

/** The route's ConsentManager, else the bundle's; neither is a configuration error. */
export function consentCheckerFor(consent: ConsentChecker | undefined): ConsentChecker {
  if (consent === undefined) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, 'requireConsent needs a ConsentManager', {
      path: 'requireConsent.consent',
    });
  }
  return consent;
}
