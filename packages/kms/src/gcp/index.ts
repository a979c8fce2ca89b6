export { GcpKmsKeyProvider, type GcpKmsKeyProviderOptions } from './gcp-kms-key-provider';
