import { BulwarkError } from '@bulwark/core';

/** The code of the BulwarkError a promise rejects with (fails the test on anything else). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BulwarkError) return error.code;
    throw error;
  }
  throw new Error('expected a BulwarkError');
}

/** The BulwarkError a promise rejects with. */
export async function errorOf(promise: Promise<unknown>): Promise<BulwarkError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BulwarkError) return error;
    throw error;
  }
  throw new Error('expected a BulwarkError');
}
