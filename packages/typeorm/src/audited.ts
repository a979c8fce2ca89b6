import { fieldRegistry } from './field-registry';

export interface AuditedOptions {
  /** Resource type of the events (`<type>.create` / `.update` / `.delete`); default the entity name. */
  resourceType?: string;
  /** Retention category of the events (AuditEvent.category). */
  category?: string;
}

/**
 * Marks an entity whose inserts, updates and removes become audit events (through the subscriber
 * added by registerBulwarkAudit), with a before/after diff in which encrypted and classified
 * fields never appear in clear. (A route's audit is @bulwark/nestjs's `@Audited(action)`.)
 */
export function AuditedEntity(options: AuditedOptions = {}): ClassDecorator {
  return (target) => {
    fieldRegistry.addAudited(
      Object.freeze({ target, resourceType: options.resourceType, category: options.category }),
    );
  };
}

/**
 * @deprecated Use `AuditedEntity` (same options, same effect). `@Audited` of @bulwark/nestjs audits
 * a route; this alias of the entity decorator goes away in the next minor release.
 */
export const Audited: (options?: AuditedOptions) => ClassDecorator = AuditedEntity;
