import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * The app's own error shape (as found, before Bulwark): class-validator style field errors,
 * `{ "errors": { "<field>": ["<message>", ...] } }`, sent by its own HttpException subclasses.
 * Its clients parse this shape, so adopting Bulwark must leave it untouched.
 */
export type FieldErrors = Record<string, string[]>;

/** 422 `{ errors: { field: [...] } }`: invalid or conflicting input. */
export class AppValidationException extends HttpException {
  constructor(errors: FieldErrors) {
    super({ errors }, HttpStatus.UNPROCESSABLE_ENTITY);
  }
}

/** 404 `{ errors: { <what>: ['not found'] } }`. */
export class AppNotFoundException extends HttpException {
  constructor(what: string) {
    super({ errors: { [what]: ['not found'] } }, HttpStatus.NOT_FOUND);
  }
}

/** 403 `{ errors: { <what>: ['forbidden'] } }`: the app's own ownership check. */
export class AppForbiddenException extends HttpException {
  constructor(what: string) {
    super({ errors: { [what]: ['forbidden'] } }, HttpStatus.FORBIDDEN);
  }
}

/** Collects field errors, then throws them all at once (the way class-validator reports). */
export class FieldCheck {
  readonly #errors: FieldErrors = {};

  add(field: string, message: string): void {
    (this.#errors[field] ??= []).push(message);
  }

  /** A trimmed string of 1..max characters, or a recorded error (and undefined). */
  text(body: Record<string, unknown>, field: string, max: number, required = true): string | undefined {
    const value = body[field];
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'string' || value.trim().length === 0) {
      this.add(field, "can't be blank");
      return undefined;
    }
    if (value.length > max) {
      this.add(field, `is too long (maximum is ${max} characters)`);
      return undefined;
    }
    return value.trim();
  }

  throwIfAny(): void {
    if (Object.keys(this.#errors).length > 0) throw new AppValidationException(this.#errors);
  }
}

/** The request body's `<key>` object (`{ user: {...} }`, `{ article: {...} }`), or a field error. */
export function wrapped(body: unknown, key: string): Record<string, unknown> {
  const inner =
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) {
    throw new AppValidationException({ [key]: ["can't be blank"] });
  }
  return inner as Record<string, unknown>;
}
