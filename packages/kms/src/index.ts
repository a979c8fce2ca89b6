/**
 * @bulwark/kms: master-key providers for core's KeyRing, one subpath each so an application
 * loads only the SDK it uses:
 *
 * - `@bulwark/kms/pkcs11`: Pkcs11KeyProvider, createPkcs11MasterKey (pkcs11js)
 * - `@bulwark/kms/aws`: AwsKmsKeyProvider (@aws-sdk/client-kms)
 * - `@bulwark/kms/gcp`: GcpKmsKeyProvider (@google-cloud/kms)
 * - `@bulwark/kms/azure`: AzureKeyVaultKeyProvider (@azure/keyvault-keys)
 * - `@bulwark/kms/vault`: VaultTransitKeyProvider (HTTP API, no SDK)
 *
 * This entry holds only what they share and loads no SDK.
 */
export type { ProviderErrorCode } from './lib/provider-errors';
