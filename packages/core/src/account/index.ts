export {
  AccountLifecycle,
  type AccountLifecycleOptions,
  type AccountNotification,
  type AccountActor,
} from './account-lifecycle';
export { MemoryAccountStore } from './memory-account-store';
export type { AccountStore, StoredAccount, StoredResetToken } from './account-store';
export {
  PasswordSignIn,
  type PasswordSignInOptions,
  type PasswordSignInAttempt,
  type PasswordSignInResult,
} from './password-sign-in';
