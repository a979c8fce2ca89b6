'use strict';

/**
 * Field encryption: one operation = encrypt a value and decrypt it again (what an ORM field
 * encryptor does on a save followed by a load), for 64 B, 1 KiB and 10 KiB UTF-8 values.
 *
 * Implementations, all in one process and interleaved round by round:
 * - node:crypto        the floor: a naive AES-256-GCM loop written by hand (random 96-bit IV,
 *                      createCipheriv with the raw key Buffer per call, iv||ct||tag, base64).
 *                      No associated data, no envelope, no key ids: the least work possible.
 * - bulwark            KeyRing.encrypt / decryptString: AES-256-GCM with associated data
 *                      ('users.email') and the default, key-committing bw2 envelope naming key
 *                      id, version and the 256-bit key commitment (checked before decryption).
 * - bulwark (bw1)      the same ring with `envelopeFormat: 1`: the envelope before key commitment
 *                      (no commitment, AEAD under the data key itself), to price the commitment.
 * - typeorm-encrypted  EncryptionTransformer.to / from, aes-256-gcm with a 12-byte IV.
 * - @47ng/cloak        encryptString / decryptString (async API) with a key parsed once up
 *                      front (the fastest way to call it; passing the serialized key string would
 *                      re-parse and re-hash it on every call).
 * - fernet             Token.encode / decode (AES-128-CBC + HMAC-SHA256 on crypto-js), ttl 0.
 *
 * Before timing, every implementation must round-trip the exact text, produce a different
 * ciphertext for the same plaintext twice (random IV), not leak the plaintext, and reject a
 * tampered ciphertext by throwing. Bulwark must also reject the right ciphertext under the
 * wrong associated data.
 */

const crypto = require('node:crypto');
const { randomUtf8 } = require('../lib/random-utf8');
const { costAtMost, fasterThan } = require('../lib/targets');

const SIZES = [
  { name: '64 B', bytes: 64 },
  { name: '1 KiB', bytes: 1024 },
  { name: '10 KiB', bytes: 10 * 1024 },
];

const AAD = 'users.email';

// ---------------------------------------------------------------------------------------------
// node:crypto floor

function nodeCryptoImpl() {
  const key = crypto.randomBytes(32);
  return {
    impl: 'node:crypto',
    encrypt(plaintext) {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
      const ct = cipher.update(plaintext, 'utf8');
      const final = cipher.final();
      return Buffer.concat([iv, ct, final, cipher.getAuthTag()]).toString('base64');
    },
    decrypt(token) {
      const buf = Buffer.from(token, 'base64');
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12));
      decipher.setAuthTag(buf.subarray(buf.length - 16));
      return Buffer.concat([decipher.update(buf.subarray(12, buf.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// bulwark

/** The built package (packages/core/dist) through its public entry, as an application sees it. */
function loadBulwarkCore() {
  let core;
  try {
    core = require('@bulwark/core');
  } catch (err) {
    throw new Error(`cannot load @bulwark/core (run \`npm run build\` first): ${err.message}`, {
      cause: err,
    });
  }
  const missing = ['KeyRing', 'EnvKeyProvider', 'MemoryKeyStore', 'generateMasterKey'].filter(
    (name) => !(name in core),
  );
  if (missing.length > 0) {
    throw new Error(
      `@bulwark/core does not export ${missing.join(', ')} (stale build? run \`npm run build\`)`,
    );
  }
  return core;
}

async function bulwarkImpl(envelopeFormat = 2) {
  const { KeyRing, EnvKeyProvider, MemoryKeyStore, generateMasterKey } = loadBulwarkCore();
  const ring = await KeyRing.open({
    provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
    store: new MemoryKeyStore(),
    envelopeFormat,
  });
  await ring.createKey('bench');
  const prefix = envelopeFormat === 2 ? 'bw2.bench.1.' : 'bw1.bench.1.';
  if (!ring.encrypt('bench', 'x', { aad: AAD }).startsWith(prefix)) {
    throw new Error(`bulwark did not write a ${prefix} envelope (stale build?)`);
  }
  return {
    impl: envelopeFormat === 2 ? 'bulwark' : 'bulwark (bw1)',
    encrypt: (plaintext) => ring.encrypt('bench', plaintext, { aad: AAD }),
    decrypt: (token) => ring.decryptString(token, { aad: AAD }),
    verify(plaintext) {
      const token = ring.encrypt('bench', plaintext, { aad: AAD });
      expectThrow(
        () => ring.decryptString(token, { aad: 'users.phone' }),
        'a ciphertext under the wrong AAD',
      );
      // Fail closed with a typed error callers can branch on, not a raw OpenSSL exception.
      try {
        ring.decryptString(tamper(token), { aad: AAD });
      } catch (err) {
        if (typeof err.code !== 'string' || !err.code.startsWith('ERR_CRYPTO')) {
          throw new Error(`a tampered envelope threw ${err.name} without an ERR_CRYPTO_* code`, {
            cause: err,
          });
        }
      }
    },
    close: typeof ring.close === 'function' ? () => ring.close() : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// peers

function typeormEncryptedImpl() {
  const { EncryptionTransformer } = require('typeorm-encrypted');
  const transformer = new EncryptionTransformer({
    key: crypto.randomBytes(32).toString('hex'),
    algorithm: 'aes-256-gcm',
    ivLength: 12,
  });
  return {
    impl: 'typeorm-encrypted',
    encrypt: (plaintext) => transformer.to(plaintext),
    decrypt: (token) => transformer.from(token),
  };
}

async function cloakImpl() {
  const cloak = require('@47ng/cloak');
  const key = await cloak.parseKey(cloak.generateKey());
  return {
    impl: '@47ng/cloak',
    async: true,
    encrypt: (plaintext) => cloak.encryptString(plaintext, key),
    decrypt: (token) => cloak.decryptString(token, key),
  };
}

function fernetImpl() {
  const fernet = require('fernet');
  const secret = new fernet.Secret(crypto.randomBytes(32).toString('base64url'));
  return {
    impl: 'fernet',
    encrypt: (plaintext) => new fernet.Token({ secret, ttl: 0 }).encode(plaintext),
    decrypt: (token) => new fernet.Token({ secret, token, ttl: 0 }).decode(),
  };
}

// ---------------------------------------------------------------------------------------------
// correctness checks shared by every implementation

function expectThrow(fn, what) {
  let threw = false;
  try {
    fn();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error(`accepted ${what} instead of throwing`);
}

async function expectReject(fn, what) {
  let threw = false;
  try {
    await fn();
  } catch {
    threw = true;
  }
  if (!threw) throw new Error(`accepted ${what} instead of throwing`);
}

/** Flips one character in the middle of the token (inside the ciphertext for every format). */
function tamper(token) {
  const alphabet = /[A-Za-z0-9]/;
  let i = Math.floor(token.length * 0.6);
  while (i < token.length - 4 && !alphabet.test(token[i])) i++;
  const replacement = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + replacement + token.slice(i + 1);
}

async function verifyAdapter(adapter, plaintext) {
  const a = await adapter.encrypt(plaintext);
  const b = await adapter.encrypt(plaintext);
  if (typeof a !== 'string' || a.length === 0) throw new Error('encrypt did not return a non-empty string');
  if (a === b) throw new Error('encrypting the same plaintext twice gave the same ciphertext (IV reuse?)');
  if (a.includes(plaintext)) throw new Error('ciphertext contains the plaintext');
  await expectReject(async () => adapter.decrypt(tamper(a)), 'a tampered ciphertext');
  if (adapter.verify) await adapter.verify(plaintext);
}

// ---------------------------------------------------------------------------------------------

module.exports = {
  name: 'crypto',
  title: 'field encryption round trip (encrypt + decrypt), AES-GCM unless noted',
  baseline: 'node:crypto',
  subject: 'bulwark',
  settings: { rounds: 40, roundMs: 50, warmupMs: 300 },
  targets: [
    costAtMost({ baseline: 'node:crypto', max: 1.0, cases: ['64 B'] }),
    costAtMost({ baseline: 'typeorm-encrypted', max: 1.0 }),
    fasterThan({ peer: '@47ng/cloak', min: 1.7 }),
    fasterThan({ peer: 'fernet', min: 15 }),
  ],

  async setup() {
    const adapters = [];
    const close = async () => {
      for (const adapter of adapters) if (adapter.close) await adapter.close();
    };
    try {
      const bulwarkUncommitted = () => bulwarkImpl(1);
      for (const make of [
        nodeCryptoImpl,
        bulwarkImpl,
        bulwarkUncommitted,
        typeormEncryptedImpl,
        cloakImpl,
        fernetImpl,
      ]) {
        adapters.push(await make());
      }
    } catch (err) {
      await close();
      throw err;
    }

    const cases = SIZES.map(({ name, bytes }) => {
      const plaintext = randomUtf8(bytes, bytes);
      return {
        name,
        check(output) {
          if (output !== plaintext) throw new Error('round trip did not return the original text');
        },
        impls: adapters.map((adapter) => ({
          impl: adapter.impl,
          run: adapter.async
            ? async () => adapter.decrypt(await adapter.encrypt(plaintext))
            : () => adapter.decrypt(adapter.encrypt(plaintext)),
          verify: () => verifyAdapter(adapter, plaintext),
        })),
      };
    });

    return { cases, close };
  },
};
