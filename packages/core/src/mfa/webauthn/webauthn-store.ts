/**
 * Persistence for WebAuthn: registered credentials (public keys, never secrets) and the
 * server-side challenges of pending ceremonies. Implementations must make `updateCounter` and
 * `takeChallenge` atomic (compare-and-set / delete-and-return), because single-use challenges and
 * cloned-authenticator detection rest on them when two requests race with the same response.
 */

/** Transport hints an authenticator reported (WebAuthn L3 `AuthenticatorTransport`). */
export type WebAuthnTransport = 'ble' | 'cable' | 'hybrid' | 'internal' | 'nfc' | 'smart-card' | 'usb';

/** A registered credential (a passkey or a security key), as stored. */
export interface StoredWebAuthnCredential {
  /** Credential id, base64url (as the authenticator returned it). Unique across all users. */
  id: string;
  userId: string;
  /** The WebAuthn user handle given at registration (random, base64url; never personal data). */
  userHandle: string;
  /** COSE public key, base64url. */
  publicKey: string;
  /** Last accepted signature counter (0 for authenticators without one, such as most passkeys). */
  counter: number;
  transports?: WebAuthnTransport[];
  /** `multiDevice` for synced passkeys, `singleDevice` for device-bound keys. */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  /** True when the credential was created as discoverable (resident key) if the client said so. */
  discoverable?: boolean;
  /** Optional label the user gave it ("work laptop"). */
  name?: string;
  createdAt: string;
  lastUsedAt?: string;
}

/** A pending ceremony: the challenge the server issued and what it was issued for. */
export interface StoredChallenge {
  purpose: 'registration' | 'authentication';
  /** The user the ceremony is for; absent for a discoverable (username-less) sign-in. */
  userId?: string;
  /** Registration: the user handle put in the creation options. */
  userHandle?: string;
  /** Epoch milliseconds after which the challenge is refused. */
  expiresAt: number;
}

export interface WebAuthnStore {
  /** Adds a credential; false (and nothing stored) when the id is already registered. */
  addCredential(credential: StoredWebAuthnCredential): Promise<boolean>;
  getCredential(id: string): Promise<StoredWebAuthnCredential | undefined>;
  listCredentials(userId: string): Promise<StoredWebAuthnCredential[]>;
  deleteCredential(userId: string, id: string): Promise<boolean>;
  /**
   * Atomically sets the counter (and `lastUsedAt`) if the stored counter still equals `expected`;
   * false otherwise, changing nothing (a concurrent use of the same credential won the race).
   */
  updateCounter(id: string, expected: number, next: number, usedAt: string): Promise<boolean>;

  /** Stores a challenge (base64url) for `ttlMs`. */
  putChallenge(challenge: string, record: StoredChallenge): Promise<void>;
  /** Atomically removes and returns the challenge's record: each challenge is answered once. */
  takeChallenge(challenge: string): Promise<StoredChallenge | undefined>;

  close?(): Promise<void> | void;
}
