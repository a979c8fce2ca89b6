import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EnvKeyProvider } from '../../src/crypto/env-key-provider';
import { KeyRing, type KeyRingOptions } from '../../src/crypto/key-ring';
import { generateMasterKey } from '../../src/crypto/master-key';
import { MemoryKeyStore } from '../../src/crypto/memory-key-store';
import { BulwarkCryptoError } from '../../src/errors';

export function providerFor(masterKey = generateMasterKey()): EnvKeyProvider {
  return new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: masterKey } });
}

export async function memoryRing(options: Partial<KeyRingOptions> = {}): Promise<KeyRing> {
  return KeyRing.open({ provider: providerFor(), store: new MemoryKeyStore(), ...options });
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bulwark-crypto-'));
  tempDirs.push(dir);
  return dir;
}

/** Runs fn and returns the error code of the BulwarkCryptoError it throws; fails on anything else. */
export function codeOf(fn: () => unknown): string {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    if (error instanceof BulwarkCryptoError) return error.code;
    throw new Error(`expected a BulwarkCryptoError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected a BulwarkCryptoError, got a result: ${String(result)}`);
}

export async function asyncCodeOf(fn: () => Promise<unknown>): Promise<string> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    if (error instanceof BulwarkCryptoError) return error.code;
    throw new Error(`expected a BulwarkCryptoError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected a BulwarkCryptoError, got a result: ${String(result)}`);
}

/**
 * A memory ring writing format-1 (`bw1*`, pre-commitment) envelopes: the suites that take that
 * format apart byte by byte run on it, since every ring still reads it. Format 2 has its own suite
 * (key-commitment.test.ts).
 */
export async function formatOneRing(options: Partial<KeyRingOptions> = {}): Promise<KeyRing> {
  return memoryRing({ envelopeFormat: 1, ...options });
}
