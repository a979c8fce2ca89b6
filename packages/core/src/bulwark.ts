import { BulwarkConfigError, ErrorCodes } from './errors';
import {
  EnvKeyProvider,
  FileKeyProvider,
  FileKeyStore,
  KeyRing,
  MemoryKeyStore,
  type AeadAlgorithm,
  type KeyProvider,
  type KeyStore,
} from './crypto/key-ring';
import { PasswordHasher, type PasswordHasherOptions } from './crypto/password-hasher';
import { TokenService, type TokenServiceOptions } from './tokens/token-service';

/** Where the master key (KEK) that wraps every data key comes from. */
export type MasterKeyConfig = KeyProvider | { env: string } | { file: string };

/** Where wrapped data keys persist. `'memory'` loses them on restart: tests and demos only. */
export type KeyStoreConfig = KeyStore | { file: string } | 'memory';

export interface BulwarkConfig {
  /** Field encryption. Omit to run without a key ring. */
  keys?: {
    /** Default: the BULWARK_MASTER_KEY environment variable. */
    masterKey?: MasterKeyConfig;
    /** Required when `keys` is set: there is no silent in-memory default that would lose keys. */
    store: KeyStoreConfig;
    /** AEAD for new keys. Default aes-256-gcm. */
    defaultAlgorithm?: AeadAlgorithm;
    /** Key ids created on start-up when missing (e.g. ['pii', 'phi']). */
    ensure?: readonly string[];
  };
  /** Password hashing (argon2id, OWASP parameters by default). Always available. */
  passwords?: PasswordHasherOptions;
  /** JWT issuing / verification. Omit for no token service. */
  tokens?: TokenServiceOptions;
}

/** The wired services. Everything that holds resources is released by `close()`. */
export interface Bulwark {
  readonly keyRing?: KeyRing;
  readonly passwords: PasswordHasher;
  readonly tokens?: TokenService;
  close(): Promise<void>;
}

const KNOWN_TOP_LEVEL = ['keys', 'passwords', 'tokens'];
const KNOWN_KEYS = ['masterKey', 'store', 'defaultAlgorithm', 'ensure'];
const ALGORITHMS: readonly AeadAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

function invalid(path: string, expected: string, got: unknown): BulwarkConfigError {
  return new BulwarkConfigError(
    ErrorCodes.CONFIG_INVALID,
    `${path} must be ${expected}, got ${describe(got)}`,
    {
      path,
    },
  );
}

/** Describes a bad value without echoing it (it may be a secret). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : 'a string';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a non-finite number';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknown(obj: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${prefix}${key} is not a known option (expected one of ${known.join(', ')})`,
        { path: `${prefix}${key}` },
      );
    }
  }
}

function isKeyProvider(value: unknown): value is KeyProvider {
  return (
    isPlainObjectOrInstance(value) &&
    typeof value.wrapKey === 'function' &&
    typeof value.unwrapKey === 'function'
  );
}

function isKeyStore(value: unknown): value is KeyStore {
  return (
    isPlainObjectOrInstance(value) &&
    typeof value.loadKeys === 'function' &&
    typeof value.saveKey === 'function'
  );
}

function isPlainObjectOrInstance(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

function resolveMasterKey(value: unknown): KeyProvider {
  const path = 'keys.masterKey';
  if (value === undefined) return new EnvKeyProvider();
  if (isKeyProvider(value)) return value;
  if (isPlainObject(value)) {
    if ('env' in value) {
      if (!nonEmptyString(value.env)) throw invalid(`${path}.env`, 'an environment variable name', value.env);
      return new EnvKeyProvider({ variable: value.env });
    }
    if ('file' in value) {
      if (!nonEmptyString(value.file)) throw invalid(`${path}.file`, 'a file path', value.file);
      return new FileKeyProvider({ path: value.file });
    }
  }
  throw invalid(path, 'a KeyProvider, { env: "VAR" } or { file: "path" }', value);
}

function resolveKeyStore(value: unknown): KeyStore {
  const path = 'keys.store';
  if (value === 'memory') return new MemoryKeyStore();
  if (isKeyStore(value)) return value;
  if (isPlainObject(value) && 'file' in value) {
    if (!nonEmptyString(value.file)) throw invalid(`${path}.file`, 'a file path', value.file);
    return new FileKeyStore({ path: value.file });
  }
  throw invalid(path, 'a KeyStore, { file: "path" } or "memory"', value);
}

/**
 * Validates the whole config first (a bad value throws BulwarkConfigError naming its path before
 * anything is opened), then opens and wires the services.
 */
export async function createBulwark(config: BulwarkConfig = {}): Promise<Bulwark> {
  if (!isPlainObject(config as unknown)) throw invalid('config', 'an object', config);
  rejectUnknown(config as Record<string, unknown>, KNOWN_TOP_LEVEL, '');

  let keyPlan:
    { provider: KeyProvider; store: KeyStore; algorithm?: AeadAlgorithm; ensure: string[] } | undefined;
  if (config.keys !== undefined) {
    const keys: unknown = config.keys;
    if (!isPlainObject(keys)) throw invalid('keys', 'an object', keys);
    rejectUnknown(keys, KNOWN_KEYS, 'keys.');
    if (keys.store === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'keys.store is required: { file: "path" } or a KeyStore ("memory" only for tests: keys are lost on restart)',
        { path: 'keys.store' },
      );
    }
    if (keys.defaultAlgorithm !== undefined && !ALGORITHMS.includes(keys.defaultAlgorithm as AeadAlgorithm)) {
      throw invalid('keys.defaultAlgorithm', `one of ${ALGORITHMS.join(', ')}`, keys.defaultAlgorithm);
    }
    const ensure = keys.ensure ?? [];
    if (!Array.isArray(ensure)) throw invalid('keys.ensure', 'an array of key ids', ensure);
    ensure.forEach((id, i) => {
      if (!nonEmptyString(id)) throw invalid(`keys.ensure[${i}]`, 'a key id', id);
    });
    keyPlan = {
      provider: resolveMasterKey(keys.masterKey),
      store: resolveKeyStore(keys.store),
      algorithm: keys.defaultAlgorithm as AeadAlgorithm | undefined,
      ensure: ensure as string[],
    };
  }
  if (config.passwords !== undefined && !isPlainObject(config.passwords)) {
    throw invalid('passwords', 'an object', config.passwords);
  }
  if (config.tokens !== undefined && !isPlainObject(config.tokens)) {
    throw invalid('tokens', 'an object', config.tokens);
  }
  // Constructors validate their own options eagerly and name paths under these prefixes.
  const passwords = new PasswordHasher({ configPath: 'passwords', ...config.passwords });
  const tokens = config.tokens ? new TokenService({ configPath: 'tokens', ...config.tokens }) : undefined;

  let keyRing: KeyRing | undefined;
  if (keyPlan) {
    keyRing = await KeyRing.open({
      provider: keyPlan.provider,
      store: keyPlan.store,
      ...(keyPlan.algorithm ? { defaultAlgorithm: keyPlan.algorithm } : {}),
    });
    try {
      for (const id of keyPlan.ensure) await keyRing.ensureKey(id);
    } catch (err) {
      await keyRing.close();
      throw err;
    }
  }

  let closed = false;
  return {
    keyRing,
    passwords,
    tokens,
    async close() {
      if (closed) return;
      closed = true;
      await keyRing?.close();
    },
  };
}
