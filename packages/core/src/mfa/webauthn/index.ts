// WebAuthn / passkeys (`@bulwark/core/webauthn`): needs the optional peer @simplewebauthn/server.
export {
  WebAuthnFactor,
  type WebAuthnFactorOptions,
  type WebAuthnUser,
  type WebAuthnVerification,
  type WebAuthnRegistration,
  type WebAuthnFactorDescription,
} from './webauthn-factor';
export { MemoryWebAuthnStore } from './memory-webauthn-store';
export type {
  WebAuthnStore,
  StoredWebAuthnCredential,
  StoredChallenge,
  WebAuthnTransport,
} from './webauthn-store';
