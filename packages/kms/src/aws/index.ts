export { AwsKmsKeyProvider, type AwsKmsKeyProviderOptions } from './aws-kms-key-provider';
