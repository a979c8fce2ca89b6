// @bulwark/identity/saml: a SAML 2.0 service provider on @node-saml/node-saml.
export {
  SamlServiceProvider,
  type SamlServiceProviderDescription,
  type SamlIdentityProvider,
  type SamlServiceProviderOptions,
  type SamlSessionRef,
  type SamlSignIn,
} from './saml-service-provider';
export {
  MemorySamlReplayStore,
  RedisSamlReplayStore,
  type SamlRedisClient,
  type SamlReplayStore,
} from './saml-replay-store';
export { SAML_DIGEST_ALGORITHMS, SAML_SIGNATURE_ALGORITHMS } from './response-checks';
