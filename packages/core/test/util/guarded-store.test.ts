import { BulwarkError, BulwarkIdentityError, ErrorCodes } from '../../src/errors';
import { guardedStore } from '../../src/util/guarded-store';

class Store {
  readonly #rows = new Map<string, string>([['a', 'one']]);
  async get(id: string): Promise<string | undefined> {
    return this.#rows.get(id);
  }
  async put(): Promise<void> {
    throw new Error('connect ECONNREFUSED db.internal:5432');
  }
  async check(): Promise<void> {
    throw new BulwarkIdentityError(ErrorCodes.SESSION_REVOKED, 'revoked');
  }
  optional?: () => Promise<void>;
}

const toStoreError = (method: string, cause: unknown) =>
  new BulwarkIdentityError(ErrorCodes.SESSION_STORE, `store: ${method} failed`, undefined, { cause });

describe('guardedStore', () => {
  const store = guardedStore(new Store(), ['get', 'put', 'check', 'optional'], toStoreError);

  it('calls the store with its own this (private fields work)', async () => {
    expect(await store.get('a')).toBe('one');
  });

  it('turns a raw failure into the store error, naming the method and not the driver message', async () => {
    const error = await store.put().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.SESSION_STORE, message: 'store: put failed' });
    expect((error as Error).message).not.toContain('db.internal');
    expect((error as { cause?: unknown }).cause).toBeInstanceOf(Error);
  });

  it('passes a Bulwark error through unchanged and leaves a missing method absent', async () => {
    await expect(store.check()).rejects.toMatchObject({ code: ErrorCodes.SESSION_REVOKED });
    await expect(store.check()).rejects.toBeInstanceOf(BulwarkError);
    expect(store.optional).toBeUndefined();
  });
});
