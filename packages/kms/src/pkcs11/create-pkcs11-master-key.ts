import { BulwarkCryptoError, ErrorCodes } from '@bulwark/core';
import { Cryptoki } from './cryptoki';
import { checkTokenOptions, resolvePin, type Pkcs11TokenOptions } from './pkcs11-options';
import { pkcs11Error } from './pkcs11-errors';

/**
 * Generates a master key in the token (C_GenerateKey, CKM_AES_KEY_GEN): AES-256, a token object,
 * private, sensitive, non-extractable, allowed to encrypt and decrypt only (no wrap, unwrap,
 * sign or derive), labelled `keyLabel`. Refuses a label already in use (ERR_CRYPTO_KEY_EXISTS):
 * a master-key rotation takes a new label. The key never leaves the token; open it with
 * `new Pkcs11KeyProvider({ ...sameOptions })`.
 *
 * Vendor tools do the same (`pkcs11-tool --keygen --key-type AES:32 --label … --sensitive`,
 * adding `CKA_EXTRACTABLE=false` where the tool allows it).
 */
export async function createPkcs11MasterKey(options: Pkcs11TokenOptions): Promise<void> {
  checkTokenOptions(options, 'createPkcs11MasterKey');
  const provider = `pkcs11:${options.tokenLabel}/${options.keyLabel}`;
  const pin = resolvePin(options, 'createPkcs11MasterKey');
  const cryptoki = Cryptoki.acquire(options.library, provider);
  try {
    const { module, binding } = cryptoki;
    const slot = cryptoki.findSlot(options.tokenLabel, provider);
    const session = cryptoki.openSession(slot, pin, provider, true);
    try {
      module.C_FindObjectsInit(session, [
        { type: binding.CKA_CLASS, value: binding.CKO_SECRET_KEY },
        { type: binding.CKA_LABEL, value: options.keyLabel },
      ]);
      const existing = module.C_FindObjects(session, 1);
      module.C_FindObjectsFinal(session);
      if (existing.length > 0) {
        throw new BulwarkCryptoError(
          ErrorCodes.CRYPTO_KEY_EXISTS,
          `Key provider ${provider}: the token already holds a key labelled ${options.keyLabel}; give the new master key a new label`,
          { keyLabel: options.keyLabel },
        );
      }
      module.C_GenerateKey(session, { mechanism: binding.CKM_AES_KEY_GEN }, [
        { type: binding.CKA_CLASS, value: binding.CKO_SECRET_KEY },
        { type: binding.CKA_KEY_TYPE, value: binding.CKK_AES },
        { type: binding.CKA_VALUE_LEN, value: 32 },
        { type: binding.CKA_LABEL, value: options.keyLabel },
        { type: binding.CKA_TOKEN, value: true },
        { type: binding.CKA_PRIVATE, value: true },
        { type: binding.CKA_SENSITIVE, value: true },
        { type: binding.CKA_EXTRACTABLE, value: false },
        { type: binding.CKA_ENCRYPT, value: true },
        { type: binding.CKA_DECRYPT, value: true },
        { type: binding.CKA_WRAP, value: false },
        { type: binding.CKA_UNWRAP, value: false },
        { type: binding.CKA_SIGN, value: false },
        { type: binding.CKA_VERIFY, value: false },
        { type: binding.CKA_DERIVE, value: false },
      ]);
    } catch (error) {
      if (error instanceof BulwarkCryptoError) throw error;
      throw pkcs11Error(error, provider, 'generating the master key');
    } finally {
      cryptoki.closeSession(slot, session);
    }
  } finally {
    cryptoki.release();
  }
}
