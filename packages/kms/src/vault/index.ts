export { VaultTransitKeyProvider, type VaultTransitKeyProviderOptions } from './vault-transit-key-provider';
export {
  rewrapTransitKeys,
  type TransitRewrapOptions,
  type TransitRewrapReport,
} from './rewrap-transit-keys';
