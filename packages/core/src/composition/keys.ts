import type { BulwarkConfig } from './bulwark-config';
import {
  EnvKeyProvider,
  FileKeyProvider,
  FileKeyStore,
  checkKeyRingOptions,
  KeyRing,
  MemoryKeyStore,
  type AeadAlgorithm,
  type KeyProvider,
  type KeyRingOptions,
  type KeyStore,
} from '../crypto/key-ring';
import { BulwarkConfigError, ErrorCodes } from '../errors';
import {
  invalid,
  isNonEmptyString,
  isObject,
  isPlainObject,
  rejectUnknown,
  optionKeys,
} from '../util/options';
import type { Opened } from './opened';

// The `keys` section: the master key provider, the key store and the key ring opened over them.

const KNOWN_KEYS = optionKeys<NonNullable<BulwarkConfig['keys']>>({
  masterKey: true,
  previousMasterKey: true,
  store: true,
  defaultAlgorithm: true,
  ensure: true,
  rotation: true,
  autoRotate: true,
  envelopeFormat: true,
  acceptFormat1: true,
});

/** What opening the key ring needs, checked before anything is opened. */
export interface KeysPlan {
  provider: KeyProvider;
  previousProvider?: KeyProvider;
  store: KeyStore;
  algorithm?: AeadAlgorithm;
  /** Passed to KeyRing.open as they are (checked by checkKeyRingOptions). */
  rotation?: KeyRingOptions['rotation'];
  autoRotate?: KeyRingOptions['autoRotate'];
  envelopeFormat?: KeyRingOptions['envelopeFormat'];
  acceptFormat1?: KeyRingOptions['acceptFormat1'];
  ensure: string[];
}

function isKeyProvider(value: unknown): value is KeyProvider {
  return isObject(value) && typeof value.wrapKey === 'function' && typeof value.unwrapKey === 'function';
}

function isKeyStore(value: unknown): value is KeyStore {
  return (
    isObject(value) && typeof value.loadKeys === 'function' && typeof value.insertKeyVersion === 'function'
  );
}

function resolveMasterKey(value: unknown, path = 'keys.masterKey'): KeyProvider {
  if (value === undefined) return new EnvKeyProvider();
  if (isKeyProvider(value)) return value;
  if (isPlainObject(value)) {
    if ('env' in value) {
      if (!isNonEmptyString(value.env))
        throw invalid(`${path}.env`, 'an environment variable name', value.env);
      return new EnvKeyProvider({ variable: value.env });
    }
    if ('file' in value) {
      if (!isNonEmptyString(value.file)) throw invalid(`${path}.file`, 'a file path', value.file);
      const { insecureFilePermissions: perms, onWarning } = value;
      if (perms !== undefined && perms !== 'refuse' && perms !== 'warn') {
        throw invalid(`${path}.insecureFilePermissions`, "'refuse' or 'warn'", perms);
      }
      if (onWarning !== undefined && typeof onWarning !== 'function') {
        throw invalid(`${path}.onWarning`, 'a function', onWarning);
      }
      return new FileKeyProvider({
        path: value.file,
        ...(value.insecureFilePermissions !== undefined
          ? { insecureFilePermissions: value.insecureFilePermissions as 'refuse' | 'warn' }
          : {}),
        ...(value.onWarning !== undefined ? { onWarning: value.onWarning as (message: string) => void } : {}),
      });
    }
  }
  throw invalid(path, 'a KeyProvider, { env: "VAR" } or { file: "path" }', value);
}

function resolveKeyStore(value: unknown): KeyStore {
  const path = 'keys.store';
  if (value === 'memory') return new MemoryKeyStore();
  if (isKeyStore(value)) return value;
  if (isPlainObject(value) && 'file' in value) {
    if (!isNonEmptyString(value.file)) throw invalid(`${path}.file`, 'a file path', value.file);
    return new FileKeyStore({ path: value.file });
  }
  throw invalid(path, 'a KeyStore, { file: "path" } or "memory"', value);
}

export function planKeys(value: unknown): KeysPlan | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw invalid('keys', 'an object', value);
  rejectUnknown(value, KNOWN_KEYS, 'keys.');
  if (value.store === undefined) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'keys.store is required: { file: "path" } or a KeyStore (or stores.keys; "memory" only for tests: keys are lost on restart)',
      { path: 'keys.store' },
    );
  }
  const ensure = value.ensure ?? [];
  if (!Array.isArray(ensure)) throw invalid('keys.ensure', 'an array of key ids', ensure);
  ensure.forEach((id, i) => {
    if (!isNonEmptyString(id)) throw invalid(`keys.ensure[${i}]`, 'a key id', id);
  });
  const plan: KeysPlan = {
    provider: resolveMasterKey(value.masterKey),
    ...(value.previousMasterKey === undefined
      ? {}
      : { previousProvider: resolveMasterKey(value.previousMasterKey, 'keys.previousMasterKey') }),
    store: resolveKeyStore(value.store),
    algorithm: value.defaultAlgorithm as AeadAlgorithm | undefined,
    ensure: ensure as string[],
    ...(value.rotation === undefined ? {} : { rotation: value.rotation as KeyRingOptions['rotation'] }),
    ...(value.autoRotate === undefined
      ? {}
      : { autoRotate: value.autoRotate as KeyRingOptions['autoRotate'] }),
    ...(value.envelopeFormat === undefined
      ? {}
      : { envelopeFormat: value.envelopeFormat as KeyRingOptions['envelopeFormat'] }),
    ...(value.acceptFormat1 === undefined
      ? {}
      : { acceptFormat1: value.acceptFormat1 as KeyRingOptions['acceptFormat1'] }),
  };
  // The ring's own check (the one KeyRing.open runs), before anything is opened.
  checkKeyRingOptions(ringOptions(plan));
  return plan;
}

function ringOptions(keys: KeysPlan): KeyRingOptions {
  return {
    provider: keys.provider,
    ...(keys.previousProvider === undefined ? {} : { previousProvider: keys.previousProvider }),
    store: keys.store,
    ...(keys.algorithm === undefined ? {} : { defaultAlgorithm: keys.algorithm }),
    ...(keys.rotation === undefined ? {} : { rotation: keys.rotation }),
    ...(keys.autoRotate === undefined ? {} : { autoRotate: keys.autoRotate }),
    ...(keys.envelopeFormat === undefined ? {} : { envelopeFormat: keys.envelopeFormat }),
    ...(keys.acceptFormat1 === undefined ? {} : { acceptFormat1: keys.acceptFormat1 }),
    configPath: 'keys',
  };
}

/** Opens the key ring (closed by close()) and creates the `ensure` key ids that are missing. */
export async function openKeys(
  keys: KeysPlan,
  opened: Opened[],
  hooks: Pick<KeyRingOptions, 'onIntegrityFailure'> = {},
): Promise<KeyRing> {
  const ring = await KeyRing.open({ ...ringOptions(keys), ...hooks });
  opened.push({ name: 'keyRing', close: () => ring.close() });
  for (const id of keys.ensure) await ring.ensureKey(id);
  return ring;
}
