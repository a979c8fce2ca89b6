import type * as Pkcs11js from 'pkcs11js';
import type { Pkcs11Module } from './cryptoki';

/** AES-GCM with a 96-bit IV and a 128-bit tag (NIST SP 800-38D), as a Cryptoki mechanism. @internal */
export function aesGcm(binding: Pkcs11Module, iv: Buffer, aad: Buffer): Pkcs11js.Mechanism {
  const parameter: Pkcs11js.AesGCM = { type: binding.CK_PARAMS_AES_GCM, iv, aad, ivBits: 96, tagBits: 128 };
  return { mechanism: binding.CKM_AES_GCM, parameter };
}
