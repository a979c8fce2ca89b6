export { Pkcs11KeyProvider, type Pkcs11KeyProviderOptions } from './pkcs11-key-provider';
export { createPkcs11MasterKey } from './create-pkcs11-master-key';
export type { Pkcs11TokenOptions } from './pkcs11-options';
