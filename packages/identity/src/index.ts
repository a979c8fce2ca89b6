export { SignInMapper } from './sign-in';
export type { ProvisionedUser, SignInAuditSink, SignInMappingOptions, SignInRequestContext } from './sign-in';
