import { BulwarkHttpError } from '@bulwark/core';

/** Stable codes of the clinic's own refusals (answered as RFC 9457 problem+json by Bulwark). */
export const ClinicErrorCodes = Object.freeze({
  INVALID_INPUT: 'ERR_CLINIC_INVALID_INPUT',
  INVALID_CREDENTIALS: 'ERR_CLINIC_INVALID_CREDENTIALS',
  NOT_FOUND: 'ERR_CLINIC_NOT_FOUND',
  ACCOUNT_CLOSED: 'ERR_CLINIC_ACCOUNT_CLOSED',
});

export function invalidInput(location: string, message: string): BulwarkHttpError {
  return new BulwarkHttpError(ClinicErrorCodes.INVALID_INPUT, 400, message, { location });
}

/** One answer for "no such user" and "wrong password": the response must not reveal which. */
export function invalidCredentials(): BulwarkHttpError {
  return new BulwarkHttpError(ClinicErrorCodes.INVALID_CREDENTIALS, 401, 'Invalid username or password.');
}

export function notFound(what: string): BulwarkHttpError {
  return new BulwarkHttpError(ClinicErrorCodes.NOT_FOUND, 404, `${what} not found.`);
}

/** A valid token whose account was erased or removed: tokens must not outlive their account. */
export function accountClosed(): BulwarkHttpError {
  return new BulwarkHttpError(ClinicErrorCodes.ACCOUNT_CLOSED, 401, 'This account no longer exists.');
}
