import { createHash, randomBytes } from 'node:crypto';
import { BulwarkCryptoError, ErrorCodes, type KeyProvider, type KeyWrapContext } from '@bulwark/core';
import type * as Pkcs11js from 'pkcs11js';
import { closedError, checkDataKey, optionError, providerError } from '../lib/provider-errors';
import { contextAad } from '../lib/wrap-context';
import { bytes, formatBlob, parseBlob } from '../lib/wrapped-blob';
import { aesGcm } from './aes-gcm';
import { Cryptoki } from './cryptoki';
import { checkTokenOptions, resolvePin, type Pkcs11TokenOptions } from './pkcs11-options';
import { pkcs11Error, reasonOf, STALE } from './pkcs11-errors';
import { SessionPool } from './session-pool';

export interface Pkcs11KeyProviderOptions extends Pkcs11TokenOptions {
  /** Sessions kept open on the token, i.e. wraps / unwraps running at once (default 4). */
  sessions?: number;
  /**
   * Accept a master key whose CKA_EXTRACTABLE is true or CKA_SENSITIVE false, i.e. one the
   * token would hand out. Refused by default: the point of an HSM is that the key never leaves.
   */
  allowExtractableMasterKey?: boolean;
}

const FORMAT = 'p11g1';
const IV_LENGTH = 12;
const KEY_LENGTH = 32;
const SEALED_LENGTH = KEY_LENGTH + 16;
const ID_LABEL = Buffer.from('bulwark/master-key-id/v1', 'utf8');

interface OpenToken {
  cryptoki: Cryptoki;
  slot: Pkcs11js.Handle;
  /**
   * A session held open for the provider's lifetime: PKCS#11 logs the token out and drops the
   * object handles when an application's last session closes, and the pool closes sessions that
   * saw an error.
   */
  anchor: Pkcs11js.Handle;
  pool: SessionPool;
  key: Pkcs11js.Handle;
  id: string;
}

/**
 * Master key in a PKCS#11 token (an HSM, a cloud HSM, SoftHSM2): a non-extractable AES-256 key
 * that wraps and unwraps Bulwark's data keys inside the token, so it never reaches this process.
 *
 * Mechanism: CKM_AES_GCM through C_Encrypt / C_Decrypt, with a random 96-bit IV and the wrap
 * context (key id, version) as associated data. Not CKM_AES_KEY_WRAP_PAD: RFC 5649 has no
 * associated data, so a wrapped key copied to another key id would unwrap, and KeyProvider
 * requires the context to be bound. Stored form: `p11g1.<iv>.<ciphertext‖tag>` (base64url).
 *
 * The token is opened on first use: the library is loaded (shared with other providers of the
 * process), the token found by label, the user logged in with the PIN, the key found by label
 * and checked (AES, 32 bytes, encrypt + decrypt allowed, non-extractable and sensitive).
 * Sessions are pooled (`sessions`, default 4); C_Encrypt / C_Decrypt run off the event loop.
 */
export class Pkcs11KeyProvider implements KeyProvider {
  readonly name: string;
  private readonly options: Pkcs11KeyProviderOptions;
  private readonly sessions: number;
  private opening: Promise<OpenToken> | undefined;
  private closed = false;

  constructor(options: Pkcs11KeyProviderOptions) {
    checkTokenOptions(options, 'Pkcs11KeyProvider');
    const sessions = options.sessions ?? 4;
    if (!Number.isSafeInteger(sessions) || sessions < 1 || sessions > 64) {
      throw optionError('Pkcs11KeyProvider.sessions', 'an integer from 1 to 64');
    }
    this.options = { ...options };
    this.sessions = sessions;
    this.name = `pkcs11:${options.tokenLabel}/${options.keyLabel}`;
  }

  /**
   * `p11:<keyLabel>:<check value>`: the label and a check value computed in the token (SHA-256
   * of an AES-GCM encryption of a fixed block under a fixed IV used for nothing else, first 12
   * bytes), so a new key under a reused label gets a new id.
   */
  async masterKeyId(): Promise<string> {
    return (await this.token()).id;
  }

  async wrapKey(dataKey: Buffer, context: KeyWrapContext): Promise<string> {
    checkDataKey(dataKey);
    const aad = contextAad(context);
    const { cryptoki, pool, key } = await this.token();
    const iv = randomBytes(IV_LENGTH);
    const sealed = await this.call('wrapping', context, false, () =>
      pool.use(async (session) => {
        cryptoki.module.C_EncryptInit(session, aesGcm(cryptoki.binding, iv, aad), key);
        return cryptoki.module.C_EncryptAsync(session, dataKey, Buffer.alloc(SEALED_LENGTH + 16));
      }),
    );
    if (sealed.length !== SEALED_LENGTH) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_PROVIDER,
        this.name,
        'wrapping',
        'an output of the wrong size',
      );
    }
    return formatBlob(FORMAT, [iv, sealed]);
  }

  async unwrapKey(wrapped: string, context: KeyWrapContext): Promise<Buffer> {
    const aad = contextAad(context);
    const parts = parseBlob(wrapped, FORMAT, 2);
    const iv = parts && bytes(parts[0]!);
    const sealed = parts && bytes(parts[1]!);
    if (iv?.length !== IV_LENGTH || sealed?.length !== SEALED_LENGTH) {
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'unwrapping',
        `a blob that is not a ${FORMAT} wrapped key`,
        undefined,
        context,
      );
    }
    const { cryptoki, pool, key } = await this.token();
    const out = await this.call('unwrapping', context, true, () =>
      pool.use(async (session) => {
        cryptoki.module.C_DecryptInit(session, aesGcm(cryptoki.binding, iv, aad), key);
        return cryptoki.module.C_DecryptAsync(session, sealed, Buffer.alloc(SEALED_LENGTH));
      }),
    );
    if (out.length !== KEY_LENGTH) {
      out.fill(0);
      throw providerError(
        ErrorCodes.CRYPTO_KEY_UNWRAP_FAILED,
        this.name,
        'unwrapping',
        'an output of the wrong size',
        undefined,
        context,
      );
    }
    return out;
  }

  /** Closes the sessions (after the running operations) and unloads the library if no other provider uses it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opening = this.opening;
    this.opening = undefined;
    const token = await opening?.catch(() => undefined);
    if (token !== undefined) await shut(token);
  }

  private token(): Promise<OpenToken> {
    if (this.closed) return Promise.reject(closedError(this.name));
    this.opening ??= this.open();
    this.opening.catch(() => {
      if (!this.closed) this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<OpenToken> {
    const pin = resolvePin(this.options, 'Pkcs11KeyProvider');
    const cryptoki = Cryptoki.acquire(this.options.library, this.name);
    let slot: Pkcs11js.Handle | undefined;
    let anchor: Pkcs11js.Handle | undefined;
    try {
      slot = cryptoki.findSlot(this.options.tokenLabel, this.name);
      anchor = cryptoki.openSession(slot, pin, this.name);
      const key = this.findKey(cryptoki, anchor);
      const session = anchor;
      const id = await this.call('computing the key check value', undefined, false, async () => {
        cryptoki.module.C_EncryptInit(
          session,
          aesGcm(cryptoki.binding, Buffer.alloc(IV_LENGTH), ID_LABEL),
          key,
        );
        return cryptoki.module.C_EncryptAsync(session, Buffer.alloc(16), Buffer.alloc(64));
      });
      const check = createHash('sha256').update(id).digest().subarray(0, 12).toString('base64url');
      const pool = new SessionPool(cryptoki, slot, () => pin, this.sessions, this.name);
      return { cryptoki, slot, anchor, pool, key, id: `p11:${this.options.keyLabel}:${check}` };
    } catch (error) {
      if (anchor !== undefined) cryptoki.closeSession(slot!, anchor);
      cryptoki.release();
      throw error;
    }
  }

  /** The one AES secret key labelled keyLabel, checked to be usable and to stay in the token. */
  private findKey(cryptoki: Cryptoki, session: Pkcs11js.Handle): Pkcs11js.Handle {
    const { module, binding } = cryptoki;
    const label = this.options.keyLabel;
    let found: Pkcs11js.Handle[];
    let attributes: Pkcs11js.Template;
    try {
      module.C_FindObjectsInit(session, [
        { type: binding.CKA_CLASS, value: binding.CKO_SECRET_KEY },
        { type: binding.CKA_LABEL, value: label },
      ]);
      try {
        found = module.C_FindObjects(session, 2);
      } finally {
        module.C_FindObjectsFinal(session);
      }
      if (found.length !== 1) {
        throw providerError(
          ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE,
          this.name,
          'finding the master key',
          found.length === 0
            ? `no secret key labelled ${label} in the token`
            : `two secret keys labelled ${label}`,
        );
      }
      attributes = module.C_GetAttributeValue(session, found[0]!, [
        { type: binding.CKA_KEY_TYPE },
        { type: binding.CKA_VALUE_LEN },
        { type: binding.CKA_ENCRYPT },
        { type: binding.CKA_DECRYPT },
        { type: binding.CKA_EXTRACTABLE },
        { type: binding.CKA_SENSITIVE },
      ]);
    } catch (error) {
      if (error instanceof BulwarkCryptoError) throw error;
      throw pkcs11Error(error, this.name, 'finding the master key');
    }
    const [type, length, encrypt, decrypt, extractable, sensitive] = attributes.map((a) => a.value as Buffer);
    const unusable = (reason: string) =>
      providerError(ErrorCodes.CRYPTO_MASTER_KEY_UNUSABLE, this.name, 'checking the master key', reason);
    if (ulong(type) !== binding.CKK_AES || ulong(length) !== KEY_LENGTH)
      throw unusable('a key that is not AES-256');
    if (!bool(encrypt) || !bool(decrypt)) throw unusable('a key without CKA_ENCRYPT and CKA_DECRYPT');
    if ((bool(extractable) || !bool(sensitive)) && this.options.allowExtractableMasterKey !== true) {
      throw unusable(
        'an extractable or non-sensitive key (create it with CKA_EXTRACTABLE false and CKA_SENSITIVE true, ' +
          'or pass allowExtractableMasterKey: true)',
      );
    }
    return found[0]!;
  }

  /** Runs a token operation; pkcs11js failures become typed errors. */
  private async call<T>(
    operation: string,
    context: KeyWrapContext | undefined,
    decrypting: boolean,
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof BulwarkCryptoError) throw error;
      if (STALE.has(reasonOf(error))) this.reopenLater();
      throw pkcs11Error(error, this.name, operation, context, decrypting);
    }
  }

  /** After a device removal or a lost login, the next call opens the token afresh. */
  private reopenLater(): void {
    const opening = this.opening;
    this.opening = undefined;
    void opening?.then(shut, () => undefined);
  }
}

async function shut(token: OpenToken): Promise<void> {
  await token.pool.close();
  token.cryptoki.closeSession(token.slot, token.anchor);
  token.cryptoki.release();
}

/** A CK_ULONG attribute (native byte order; 8 bytes on 64-bit platforms). */
function ulong(value: Buffer | undefined): number {
  if (value === undefined || value.length === 0) return -1;
  return value.length >= 8 ? Number(value.readBigUInt64LE(0)) : value.readUInt32LE(0);
}

function bool(value: Buffer | undefined): boolean {
  return value !== undefined && value.length > 0 && value[0] !== 0;
}
