// createBulwark and its config types live in composition/ (one file per section); this module
// keeps the import path the package index and the tests use.
export { createBulwark } from './composition/create-bulwark';
export type {
  AuditConfig,
  AuditStoreConfig,
  AuthzConfig,
  Bulwark,
  BulwarkConfig,
  BulwarkStores,
  CheckpointStoreConfig,
  ComplianceConfig,
  JwkConfig,
  KeyStoreConfig,
  MasterKeyConfig,
  MfaConfig,
  PrivacyConfig,
  SecretBytesConfig,
  ThreatConfig,
  RevocationConfig,
  AlertsConfig,
} from './composition/bulwark-config';
export type { AccountsConfig, SessionsConfig } from './composition/sessions';
