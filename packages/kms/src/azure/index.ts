export {
  AzureKeyVaultKeyProvider,
  type AzureKeyVaultKeyProviderOptions,
  type AzureWrapAlgorithm,
} from './azure-key-vault-key-provider';
