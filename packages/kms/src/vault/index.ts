export { VaultTransitKeyProvider, type VaultTransitKeyProviderOptions } from './vault-transit-key-provider';
