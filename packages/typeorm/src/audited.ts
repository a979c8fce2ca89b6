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
 * fields never appear in clear.
 */
export function Audited(options: AuditedOptions = {}): ClassDecorator {
  return (target) => {
    fieldRegistry.addAudited(
      Object.freeze({ target, resourceType: options.resourceType, category: options.category }),
    );
  };
}
