// @bulwark/core/webauthn: WebAuthn / passkeys. A subpath of its own because it loads the optional
// peer @simplewebauthn/server, which the main entry must not require.
export * from './mfa/webauthn';
