import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes } from '@bulwark/core';
import type * as Pkcs11js from 'pkcs11js';
import { providerError } from '../lib/provider-errors';
import { pkcs11Error } from './pkcs11-errors';

/** The pkcs11js module (an optional peer dependency, loaded on first use). */
export type Pkcs11Module = typeof Pkcs11js;

function loadBinding(provider: string): Pkcs11Module {
  try {
    return require('pkcs11js') as Pkcs11Module;
  } catch (cause) {
    throw providerError(
      ErrorCodes.CRYPTO_KEY_PROVIDER,
      provider,
      'loading pkcs11js',
      'a missing module (npm install pkcs11js)',
      cause,
    );
  }
}

/** Per-process key for comparing PINs without keeping them (HMAC digests only). */
const PIN_KEY = randomBytes(32);
const pinDigest = (pin: string) => createHmac('sha256', PIN_KEY).update(pin, 'utf8').digest();

interface TokenState {
  sessions: number;
  /** Digest of the PIN that logged this process in; the login lasts while any session is open. */
  loggedInWith: Buffer | undefined;
}

/**
 * One loaded Cryptoki library, shared by every provider of the process that names the same path:
 * C_Initialize may run once per process, and a token's login is shared by all its sessions.
 * Reference-counted; the last release finalizes the library.
 * @internal
 */
export class Cryptoki {
  private static readonly loaded = new Map<string, Cryptoki>();
  private refs = 0;
  private readonly tokens = new Map<string, TokenState>();

  private constructor(
    readonly library: string,
    readonly binding: Pkcs11Module,
    readonly module: Pkcs11js.PKCS11,
  ) {}

  static acquire(library: string, provider: string): Cryptoki {
    let entry = Cryptoki.loaded.get(library);
    if (entry === undefined) {
      const binding = loadBinding(provider);
      const module = new binding.PKCS11();
      try {
        module.load(library);
        // CKF_OS_LOCKING_OK: sessions run on libuv worker threads at once (the *Async calls).
        module.C_Initialize({ flags: binding.CKF_OS_LOCKING_OK });
      } catch (error) {
        throw pkcs11Error(error, provider, `loading the PKCS#11 library ${library}`);
      }
      entry = new Cryptoki(library, binding, module);
      Cryptoki.loaded.set(library, entry);
    }
    entry.refs++;
    return entry;
  }

  release(): void {
    if (--this.refs > 0) return;
    Cryptoki.loaded.delete(this.library);
    try {
      this.module.C_Finalize();
      this.module.close();
    } catch {
      // The library is being unloaded; nothing to hand back.
    }
  }

  /** The slot holding the initialised token labelled `label` (labels are space-padded to 32). */
  findSlot(label: string, provider: string): Pkcs11js.Handle {
    let slots: Pkcs11js.Handle[];
    try {
      slots = this.module.C_GetSlotList(true);
    } catch (error) {
      throw pkcs11Error(error, provider, 'listing slots');
    }
    for (const slot of slots) {
      try {
        if (this.module.C_GetTokenInfo(slot).label.trimEnd() === label) return slot;
      } catch {
        // A slot whose token went away while listing: look at the others.
      }
    }
    throw providerError(
      ErrorCodes.CRYPTO_KMS_UNAVAILABLE,
      provider,
      'opening the token',
      `no token labelled ${JSON.stringify(label)} is present`,
    );
  }

  /** Opens a read-only session and makes sure the user is logged in with `pin`. */
  openSession(slot: Pkcs11js.Handle, pin: string, provider: string, readWrite = false): Pkcs11js.Handle {
    const { binding, module } = this;
    const key = slot.toString('hex');
    const token = this.tokens.get(key) ?? { sessions: 0, loggedInWith: undefined };
    this.tokens.set(key, token);
    let session: Pkcs11js.Handle;
    try {
      session = module.C_OpenSession(
        slot,
        binding.CKF_SERIAL_SESSION | (readWrite ? binding.CKF_RW_SESSION : 0),
      );
    } catch (error) {
      throw pkcs11Error(error, provider, 'opening a session');
    }
    token.sessions++;
    const digest = pinDigest(pin);
    try {
      if (token.loggedInWith === undefined) {
        try {
          module.C_Login(session, binding.CKU_USER, pin);
        } catch (error) {
          // Another library user of this process logged in: the PIN has not been checked.
          if (!/^CKR_USER_ALREADY_LOGGED_IN/.test((error as Error).message)) throw error;
          throw providerError(
            ErrorCodes.CRYPTO_KMS_ACCESS_DENIED,
            provider,
            'logging in',
            'CKR_USER_ALREADY_LOGGED_IN (the token was logged in by other code of this process, so the PIN cannot be checked)',
          );
        }
        token.loggedInWith = digest;
      } else if (!timingSafeEqual(token.loggedInWith, digest)) {
        // C_Login would answer CKR_USER_ALREADY_LOGGED_IN without checking a wrong PIN.
        throw providerError(ErrorCodes.CRYPTO_KMS_ACCESS_DENIED, provider, 'logging in', 'CKR_PIN_INCORRECT');
      }
    } catch (error) {
      this.closeSession(slot, session);
      throw error instanceof BulwarkCryptoError ? error : pkcs11Error(error, provider, 'logging in');
    }
    return session;
  }

  closeSession(slot: Pkcs11js.Handle, session: Pkcs11js.Handle): void {
    try {
      this.module.C_CloseSession(session);
    } catch {
      // Already closed (device removed, library finalized): nothing left to release.
    }
    const token = this.tokens.get(slot.toString('hex'));
    if (token !== undefined && --token.sessions <= 0) {
      // PKCS#11 §5.6: closing the application's last session with a token logs it out.
      this.tokens.delete(slot.toString('hex'));
    }
  }
}
