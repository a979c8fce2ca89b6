import { promises as fs } from 'node:fs';
import type { JWK } from 'jose';
import { BulwarkConfigError, BulwarkError, ErrorCodes } from '../errors';
import {
  configError,
  hasMethods,
  invalid,
  isPlainObject,
  isNonEmptyString,
  rejectUnknown,
} from '../util/options';

// What only createBulwark reads: stores named in config, secrets and JWKs from env / files, and
// engine errors re-pathed under the config path. The generic checks are util/options.ts.
// Every error is a BulwarkConfigError whose
// `details.path` names the config field; no message ever contains a configured value that could be
// a secret (keys, JWKs, file contents): only its kind ("a string", "an object").

/** Raw key bytes, an environment variable or a file holding them as hex or base64(url) text. */
export type SecretBytesConfig = Uint8Array | { env: string } | { file: string };

/** A JSON Web Key given inline or as a file holding it. */
export type JwkConfig = JWK | { file: string };

/** `'memory'` only when said explicitly: a silent in-memory default would lose records on restart. */
export function requireStore(value: unknown, path: string, methods: readonly string[], what: string): void {
  if (value === 'memory' || hasMethods(value, ...methods)) return;
  if (value === undefined) {
    throw configError(path, `is required: a ${what}, or "memory" (tests only: records are lost on restart)`);
  }
  throw invalid(path, `a ${what} or "memory"`, value);
}

/** `{ file: "path" }` (only that key, plus `extra`), or undefined when `value` is not one. */
export function fileRef(
  value: unknown,
  path: string,
  extra: readonly string[] = [],
): { file: string } | undefined {
  if (!isPlainObject(value) || !('file' in value)) return undefined;
  rejectUnknown(value, ['file', ...extra], `${path}.`);
  if (!isNonEmptyString(value.file)) throw invalid(`${path}.file`, 'a file path', value.file);
  return { file: value.file };
}

export async function readTextFile(file: string, path: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    throw configError(`${path}.file`, `could not be read${code ? ` (${code})` : ''}`, err);
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Checks a secret's shape synchronously (before anything is opened). */
export function checkSecretBytes(value: unknown, path: string, minBytes: number): void {
  if (value instanceof Uint8Array) {
    if (value.length < minBytes) throw configError(path, `must be at least ${minBytes} bytes`);
    return;
  }
  if (isPlainObject(value)) {
    if ('env' in value) {
      rejectUnknown(value, ['env'], `${path}.`);
      if (!isNonEmptyString(value.env))
        throw invalid(`${path}.env`, 'an environment variable name', value.env);
      return;
    }
    if (fileRef(value, path) !== undefined) return;
  }
  throw invalid(path, 'bytes (Uint8Array), { env: "VAR" } or { file: "path" }', value);
}

/**
 * Reads a secret key: bytes as given, or hex / base64(url) text from an environment variable or a
 * file (the formats `bulwark audit --hmac-key-file` reads). Never echoes the value.
 */
export async function readSecretBytes(
  value: SecretBytesConfig,
  path: string,
  minBytes: number,
): Promise<Uint8Array> {
  checkSecretBytes(value, path, minBytes);
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  let text: string | undefined;
  let where: string;
  if ('env' in value) {
    where = `${path}.env`;
    text = process.env[value.env];
    if (text === undefined || text.trim() === '') {
      throw configError(where, `names environment variable ${value.env}, which is not set`);
    }
  } else {
    where = `${path}.file`;
    text = await readTextFile(value.file, path);
  }
  const t = text.trim();
  let bytes: Buffer;
  if (HEX.test(t)) bytes = Buffer.from(t, 'hex');
  else if (BASE64.test(t))
    bytes = Buffer.from(t.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  else throw configError(where, 'must hold the key as hex or base64url text');
  if (bytes.length < minBytes) throw configError(where, `must hold at least ${minBytes} bytes of key`);
  return bytes;
}

/** Checks a JWK config's shape synchronously. */
export function checkJwk(value: unknown, path: string): void {
  if (fileRef(value, path) !== undefined) return;
  if (isPlainObject(value) && typeof value.kty === 'string') return;
  throw invalid(path, 'a JWK object or { file: "path" }', value);
}

/** Reads a JWK (inline or from a file). A file that is not JSON is reported without its content. */
export async function readJwk(value: JwkConfig, path: string): Promise<JWK> {
  checkJwk(value, path);
  const ref = fileRef(value, path);
  if (ref === undefined) return value as JWK;
  const text = await readTextFile(ref.file, path);
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the text: a private key must not reach an error message.
    throw configError(`${path}.file`, 'must hold a JSON Web Key (the file is not valid JSON)');
  }
  if (!isPlainObject(jwk) || typeof jwk.kty !== 'string') {
    throw configError(`${path}.file`, 'must hold a JSON Web Key object');
  }
  return jwk as JWK;
}

/**
 * Runs an engine constructor (or registration) and reports its complaint as a config error at
 * `path`: engines without a configurable error path name fields relative to themselves
 * (`dsr.options.responseDays`, `policies[0].rules[1]`), which the app's config does not use.
 * A BulwarkConfigError already naming a path under `path` is passed through unchanged.
 */
export function underPath<T>(path: string, build: () => T, options: { nest?: boolean } = {}): T {
  try {
    return build();
  } catch (err) {
    throw asConfigError(path, err, options.nest === true);
  }
}

export async function underPathAsync<T>(path: string, build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (err) {
    throw asConfigError(path, err, false);
  }
}

/**
 * `nest`: the engine's own path is relative to the value at `path` (a policy document's
 * `policies[0].rules[1]`), so the config path is `path.inner`; otherwise the inner path is kept
 * as `details.field` (its naming is the engine's, e.g. `dsr.options.responseDays`).
 */
function asConfigError(path: string, err: unknown, nest: boolean): unknown {
  if (!(err instanceof BulwarkError)) return err;
  const raw = err.details?.path;
  const inner = typeof raw === 'string' && raw !== '' ? raw : undefined;
  if (err instanceof BulwarkConfigError && inner !== undefined && inner.startsWith(path)) return err;
  const nested = nest && inner !== undefined && inner !== 'policy' ? `${path}.${inner}` : undefined;
  return new BulwarkConfigError(
    ErrorCodes.CONFIG_INVALID,
    `${nested ?? path}: ${err.message}`,
    {
      path: nested ?? path,
      ...(nested === undefined && inner !== undefined ? { field: inner } : {}),
      reason: err.code,
    },
    { cause: err },
  );
}
