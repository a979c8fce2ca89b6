import { createHash, randomBytes } from 'node:crypto';
import type { OneTimeStore } from '../one-time-store';
import { oidcFailure } from './oidc-failure';

/** What a login remembers between the redirect to the provider and its callback. */
export interface OidcTransaction {
  readonly issuer: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** Local path to return to after sign-in. */
  readonly returnTo: string;
}

const HANDLE = /^[A-Za-z0-9_-]{43}$/;

function storeKey(handle: string): string {
  // The store holds a digest of the cookie, never the cookie itself.
  return `oidc:tx:${createHash('sha256').update(handle).digest('base64url')}`;
}

function parse(value: string): OidcTransaction | undefined {
  try {
    const t = JSON.parse(value) as Partial<OidcTransaction>;
    return typeof t.issuer === 'string' &&
      typeof t.state === 'string' &&
      typeof t.nonce === 'string' &&
      typeof t.codeVerifier === 'string' &&
      typeof t.returnTo === 'string'
      ? (t as OidcTransaction)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Login transactions kept server side, keyed by a random handle that only the browser's cookie
 * holds: the `state` in the URL is useless without that browser's cookie, and `take` makes every
 * transaction single use (a replayed callback finds nothing).
 */
export class OidcTransactions {
  readonly #store: OneTimeStore;
  readonly #ttlSec: number;

  constructor(store: OneTimeStore, ttlSec: number) {
    this.#store = store;
    this.#ttlSec = ttlSec;
  }

  /** Stores the transaction; returns the handle for the cookie. */
  async begin(transaction: OidcTransaction, provider: string): Promise<string> {
    const handle = randomBytes(32).toString('base64url');
    let stored: boolean;
    try {
      stored = await this.#store.put(storeKey(handle), JSON.stringify(transaction), this.#ttlSec);
    } catch {
      throw oidcFailure('provider_unavailable', provider);
    }
    // A full store (many logins started and never finished) refuses new ones: 503 as well.
    if (!stored) throw oidcFailure('provider_unavailable', provider);
    return handle;
  }

  /** The transaction of `handle`, removed from the store; undefined when unknown, used or expired. */
  async take(handle: string, provider: string): Promise<OidcTransaction | undefined> {
    if (!HANDLE.test(handle)) return undefined;
    let value: string | undefined;
    try {
      value = await this.#store.take(storeKey(handle));
    } catch {
      throw oidcFailure('provider_unavailable', provider);
    }
    return value === undefined ? undefined : parse(value);
  }
}
