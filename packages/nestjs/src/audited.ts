import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { AUDIT_LIMITS, BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { checkRouteAuditMarks, type AuditFailurePolicy } from './core-http';
import { checkResourceSpec, type ResourceSpec } from './resource-spec';

/** Metadata key of `@Audited()`. */
export const BULWARK_AUDITED = 'bulwark:audited';
/** A controller's `@Audited()`, set on each of its methods (internal: see `routeAudit`). */
export const BULWARK_AUDITED_BY_CLASS = 'bulwark:audited-by-class';

export interface AuditedOptions {
  /** The resource acted on, recorded in the event (type, or a function of the request). */
  resource?: ResourceSpec;
  /**
   * Retention category of the events (default: the module's `audit.category`, `http`). A
   * classification category (`personal`, `sensitive`, `phi`, `cardholder`) makes the route fail
   * closed when its event cannot be stored.
   */
  category?: string;
  /**
   * What happens when the event cannot be stored: `'fail-closed'` withholds the response until the
   * event is durable and answers 503 problem+json (ERR_AUDIT_UNAVAILABLE) when it cannot be;
   * `'report'` serves and reports. Default: `'fail-closed'` for classified routes (a
   * classification category, or `@RequireConsent`), else the module's `audit.onFailure`.
   */
  onFailure?: AuditFailurePolicy;
}

export interface AuditedMetadata {
  readonly action: string;
  readonly resource?: ResourceSpec;
  readonly category?: string;
  readonly onFailure?: AuditFailurePolicy;
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
  const marks = checkRouteAuditMarks(
    {
      ...(options.category !== undefined ? { category: options.category } : {}),
      ...(options.onFailure !== undefined ? { onFailure: options.onFailure } : {}),
    },
    'Audited',
  );
  const metadata: AuditedMetadata = Object.freeze({
    action,
    ...(options.resource !== undefined
      ? { resource: checkResourceSpec(options.resource, 'Audited.resource') }
      : {}),
    ...(options.category !== undefined ? { category: options.category } : {}),
    ...(marks.onFailure !== undefined ? { onFailure: marks.onFailure } : {}),
  });
  const set = SetMetadata(BULWARK_AUDITED, metadata);
  const decorator = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    if (descriptor === undefined) {
      set(target as never);
      // On a controller: each of its methods carries the metadata too (under its own key, so a
      // method's own @Audited still wins), because Nest copies a method's metadata onto the
      // handler it registers with the router; the exception filter finds the route's audit
      // there when the request was refused before Bulwark's guard saw the route.
      const proto = (target as { prototype?: Record<string, unknown> }).prototype;
      for (const name of proto !== undefined ? Object.getOwnPropertyNames(proto) : []) {
        const method = proto![name];
        if (name !== 'constructor' && typeof method === 'function') {
          Reflect.defineMetadata(BULWARK_AUDITED_BY_CLASS, metadata, method);
        }
      }
      return;
    }
    set(target, key!, descriptor);
  };
  return Object.assign(decorator, { KEY: BULWARK_AUDITED }) as CustomDecorator<string>;
}
