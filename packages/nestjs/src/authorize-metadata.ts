import type { ResourceSpec } from './resource-spec';

/** Field-level options of `@Authorize` (ASVS V8.2.3): the policy's field rules applied to the body and the answer. */
export interface AuthorizeFieldOptions {
  /** Refuse (403 `field_denied`) a body setting a field the subject may not write for the action. */
  checkBody?: boolean;
  /**
   * Send only the fields the subject may read (field rules of the action, or of `{ action }`);
   * an array answer is filtered item by item.
   */
  filterResponse?: boolean | { action?: string };
}

/** Metadata key of `@Authorize()`. */
export const BULWARK_AUTHORIZE = 'bulwark:authorize';

export interface AuthorizeMetadata {
  readonly action: string;
  readonly resource: ResourceSpec;
  readonly options: AuthorizeFieldOptions;
}
