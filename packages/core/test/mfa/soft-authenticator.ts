/**
 * A software WebAuthn authenticator for tests (test code, not a product): P-256 keys from
 * node:crypto, authenticatorData / clientDataJSON / attestation 'none' and ES256 assertion
 * signatures built as WebAuthn Level 3 §6.1, §6.5 and §7 describe, so the server side is tested
 * against the bytes a browser and a real authenticator would send.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor };

/** Minimal canonical CBOR encoder (RFC 8949): the types attestation objects and COSE keys use. */
function cbor(value: Cbor): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
    if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();
const b64u = (data: Buffer | Uint8Array): string => Buffer.from(data).toString('base64url');

/** Authenticator data flags (WebAuthn §6.1). */
const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

export interface CeremonyOverrides {
  /** Origin written in clientDataJSON (default: the authenticator's origin). */
  origin?: string;
  /** RP id whose hash goes into authenticatorData (default: the one in the options). */
  rpId?: string;
  /** Set the UV flag (default true). */
  userVerified?: boolean;
  /** Signature counter to send instead of the next one. */
  counter?: number;
  /** clientDataJSON type (default `webauthn.create` / `webauthn.get`). */
  type?: string;
  /** Use this challenge instead of the one in the options. */
  challenge?: string;
}

/** A `PublicKeyCredential` as the browser serialises it (`toJSON()`), what the server receives. */
export type SoftCredentialJSON = Record<string, unknown> & { id: string; response: Record<string, unknown> };

interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  cose: Buffer;
  rpId: string;
  userHandle: string;
  counter: number;
}

/**
 * One authenticator holding any number of credentials. `counter: false` models a passkey provider
 * that keeps no signature counter (always 0).
 */
export class SoftAuthenticator {
  readonly origin: string;
  readonly #counting: boolean;
  readonly #credentials: Credential[] = [];

  constructor(origin: string, options: { counter?: boolean } = {}) {
    this.origin = origin;
    this.#counting = options.counter !== false;
  }

  /** `navigator.credentials.create()`: answers the server's creation options. */
  create(
    options: { challenge: string; rp: { id?: string }; user: { id: string } },
    overrides: CeremonyOverrides = {},
  ): SoftCredentialJSON {
    const rpId = options.rp.id!;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    // COSE_Key for ES256 (RFC 9053): kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    const cose = cbor(
      new Map<Cbor, Cbor>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const id = randomBytes(16);
    const credential: Credential = { id, privateKey, cose, rpId, userHandle: options.user.id, counter: 0 };
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([
      this.#header(overrides.rpId ?? rpId, AT | this.#flags(overrides), overrides.counter ?? 0),
      Buffer.alloc(16), // AAGUID: zeros, as with attestation 'none'
      idLength,
      id,
      cose,
    ]);
    const clientDataJSON = this.#clientData('webauthn.create', options.challenge, overrides);
    this.#credentials.push(credential);
    return {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        attestationObject: b64u(cbor({ fmt: 'none', attStmt: {}, authData })),
        transports: ['internal'],
      },
      clientExtensionResults: { credProps: { rk: true } },
      authenticatorAttachment: 'platform',
    };
  }

  /**
   * `navigator.credentials.get()`: signs the server's request options with a credential for its
   * RP (the first one listed in allowCredentials, else the first discoverable one).
   */
  get(
    options: { challenge: string; rpId?: string; allowCredentials?: Array<{ id: string }> },
    overrides: CeremonyOverrides = {},
  ): SoftCredentialJSON {
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [];
    const credential = this.#credentials.find(
      (c) => c.rpId === options.rpId && (allowed.length === 0 || allowed.includes(b64u(c.id))),
    );
    if (credential === undefined) throw new Error('no credential for this relying party');
    if (this.#counting) credential.counter += 1;
    const authData = this.#header(
      overrides.rpId ?? credential.rpId,
      this.#flags(overrides),
      overrides.counter ?? (this.#counting ? credential.counter : 0),
    );
    const clientDataJSON = this.#clientData('webauthn.get', options.challenge, overrides);
    // §6.3.3 step 11: the signature is over authenticatorData || SHA-256(clientDataJSON); ES256 is DER.
    const signature = sign(
      'sha256',
      Buffer.concat([authData, sha256(clientDataJSON)]),
      credential.privateKey,
    );
    return {
      id: b64u(credential.id),
      rawId: b64u(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  #flags(overrides: CeremonyOverrides): number {
    return UP | (overrides.userVerified === false ? 0 : UV);
  }

  #header(rpId: string, flags: number, counter: number): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count]);
  }

  #clientData(type: string, challenge: string, overrides: CeremonyOverrides): Buffer {
    return Buffer.from(
      JSON.stringify({
        type: overrides.type ?? type,
        challenge: overrides.challenge ?? challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
  }
}
