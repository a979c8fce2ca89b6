import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { AUDIT_LIMITS, BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { checkResourceSpec, type ResourceSpec } from './resource-spec';

/** Metadata key of `@Audited()`. */
export const BULWARK_AUDITED = 'bulwark:audited';

export interface AuditedOptions {
  /** The resource acted on, recorded in the event (type, or a function of the request). */
  resource?: ResourceSpec;
  /** Retention category of the events (default: the module's `audit.category`, `http`). */
  category?: string;
}

export interface AuditedMetadata {
  readonly action: string;
  readonly resource?: ResourceSpec;
  readonly category?: string;
}

// Same grammar as the audit log's actions, checked here so a typo fails at class load, not per request.
const ACTION_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

/**
 * Writes one audit event per call of the route to the module's AuditLog: who (principal, ip,
 * user agent), `action`, the resource, the outcome from the final HTTP status (2xx/3xx success,
 * 401/403 denied, anything else failure; a thrown exception counts by the status it is answered
 * with), request id and latency. The event is queued when the response ends and never delays it.
 * On a controller it applies to every route; a method's own `@Audited` replaces it.
 */
export function Audited(action: string, options: AuditedOptions = {}): CustomDecorator<string> {
  if (typeof action !== 'string' || action.length > AUDIT_LIMITS.action || !ACTION_RE.test(action)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      '@Audited(action): action must be a dotted verb such as records.read (letters, digits, _ . : / -)',
      { path: 'Audited.action' },
    );
  }
  if (options === null || typeof options !== 'object') {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      '@Audited(action, options): options must be an object',
      {
        path: 'Audited.options',
      },
    );
  }
  if (
    options.category !== undefined &&
    (typeof options.category !== 'string' || options.category.length === 0)
  ) {
    throw new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, '@Audited: category must be a non-empty string', {
      path: 'Audited.category',
    });
  }
  const metadata: AuditedMetadata = Object.freeze({
    action,
    ...(options.resource !== undefined
      ? { resource: checkResourceSpec(options.resource, 'Audited.resource') }
      : {}),
    ...(options.category !== undefined ? { category: options.category } : {}),
  });
  return SetMetadata(BULWARK_AUDITED, metadata);
}
