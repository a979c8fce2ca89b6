/**
 * Which top-level fields of a resource a subject may read or write for one action (ASVS 5.0
 * V8.2.3: object property level authorization), as `PolicyEngine.permittedFields()` decides it
 * from the policy's field rules. `all`: every field but `denied`; otherwise only `fields` (minus
 * `denied`). A refused action permits no field.
 */
export interface FieldPermission {
  /** The action itself is allowed on the resource. */
  readonly allowed: boolean;
  /** Every field is permitted (but `denied`). */
  readonly all: boolean;
  /** The permitted fields when `all` is false. */
  readonly fields: readonly string[];
  /** Fields withheld by a matching deny rule with `fields`. */
  readonly denied: readonly string[];
}

/** Nothing is permitted (a refused action). */
export const NO_FIELDS: FieldPermission = Object.freeze({
  allowed: false,
  all: false,
  fields: Object.freeze([]),
  denied: Object.freeze([]),
});

/** Whether one field may be read / written under `permission`. */
export function isFieldPermitted(permission: FieldPermission, field: string): boolean {
  if (!permission.allowed || permission.denied.includes(field)) return false;
  return permission.all || permission.fields.includes(field);
}

/**
 * A copy of `value` holding only the permitted own fields (a response filter). Nested objects are
 * kept or dropped whole: field rules name top-level fields. Anything but a plain object is
 * returned as it is.
 */
export function filterFields<T>(value: T, permission: FieldPermission): Partial<T> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (isFieldPermitted(permission, key)) out[key] = v;
  }
  return out as Partial<T>;
}

/**
 * The own fields of `body` the subject may not write (a request body check); [] when all are
 * permitted. An array body (a batch write) is checked element by element: every plain-object
 * element, at any array depth, must be permitted, so a forbidden field cannot ride in an array.
 */
export function forbiddenFields(body: unknown, permission: FieldPermission): string[] {
  if (body === null || typeof body !== 'object') return [];
  if (Array.isArray(body)) {
    const found = new Set<string>();
    for (const item of body as unknown[]) for (const key of forbiddenFields(item, permission)) found.add(key);
    return [...found];
  }
  return Object.keys(body).filter((key) => !isFieldPermitted(permission, key));
}
