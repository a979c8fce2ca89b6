import { BulwarkError, ErrorCodes, type KeyWrapContext } from '@bulwark/core';
import type { KeyStore, WrappedKeyTarget } from '@bulwark/core/store';
import { optionError } from '../lib/provider-errors';
import type { VaultTransitKeyProvider } from './vault-transit-key-provider';

export interface TransitRewrapOptions {
  /** Subject records read per page (default 500). */
  pageSize?: number;
  /** Stops between records; run again to finish. */
  signal?: AbortSignal;
}

export interface TransitRewrapReport {
  /** The transit key's latest version when the run started: what every key is re-wrapped to. */
  latestVersion: number;
  /** Wrapped keys re-encrypted in Vault under latestVersion. */
  rewrapped: number;
  /** Wrapped keys already under latestVersion (or a later one). */
  current: number;
  /** Wrapped keys of another master key (a rotation between providers in progress), left alone. */
  foreign: number;
  /** Records changed by another process between read and write; a re-run handles them. */
  conflicts: number;
  /** Records Vault refused to re-wrap; left as they were. */
  failed: Array<{ record: string; code: string }>;
  /**
   * The lowest transit key version still in the store after a FINISHED run: raise
   * min_decryption_version up to it. Undefined when the run did not finish (records it did not
   * reach may be older) or found no wrapped key of this transit key.
   */
  lowestVersion: number | undefined;
  /** False when the signal stopped the run. */
  finished: boolean;
}

/**
 * Re-wraps every wrapped key of a key store that `provider` wraps (the ring secret, every version
 * of every named key, every live subject key) under the transit key's latest version, inside
 * Vault (`transit/rewrap`: no data key reaches this process), each record replaced on its own by
 * a compare-and-swap. Run it after `vault write -f transit/keys/<key>/rotate`; when the report
 * says `finished: true` and `lowestVersion` equals `latestVersion`, `min_decryption_version` can
 * be raised to it.
 * Resumable: records already under the latest version are skipped.
 */
export async function rewrapTransitKeys(
  provider: VaultTransitKeyProvider,
  store: KeyStore,
  options: TransitRewrapOptions = {},
): Promise<TransitRewrapReport> {
  const pageSize = options.pageSize ?? 500;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw optionError('rewrapTransitKeys.pageSize', 'a positive integer');
  if (typeof store.listSubjects !== 'function' || typeof store.replaceWrappedKey !== 'function') {
    throw optionError('rewrapTransitKeys.store', 'a KeyStore with listSubjects and replaceWrappedKey');
  }
  const label = `mk1.${await provider.masterKeyId()}.`;
  const report: TransitRewrapReport = {
    latestVersion: await provider.latestVersion(),
    rewrapped: 0,
    current: 0,
    foreign: 0,
    conflicts: 0,
    failed: [],
    lowestVersion: undefined,
    finished: false,
  };
  // Reported only once every record was seen: an interrupted run has not looked at the rest.
  let lowestSeen: number | undefined;
  const lowest = (version: number) => {
    lowestSeen = Math.min(lowestSeen ?? version, version);
  };

  const one = async (record: string, target: WrappedKeyTarget, stored: string, context: KeyWrapContext) => {
    const labelled = stored.startsWith(label);
    const blob = labelled ? stored.slice(label.length) : stored;
    const version = provider.keyVersion(blob);
    if (version === undefined || (stored.startsWith('mk1.') && !labelled)) {
      report.foreign++;
      return;
    }
    if (version >= report.latestVersion) {
      report.current++;
      lowest(version);
      return;
    }
    let next: string;
    try {
      next = (labelled ? label : '') + (await provider.rewrap(blob, context));
    } catch (error) {
      report.failed.push({
        record,
        code: error instanceof BulwarkError ? error.code : ErrorCodes.CRYPTO_KEY_PROVIDER,
      });
      lowest(version);
      return;
    }
    if (await store.replaceWrappedKey!(target, stored, next)) {
      report.rewrapped++;
      lowest(provider.keyVersion(next.slice(labelled ? label.length : 0)) ?? report.latestVersion);
    } else {
      report.conflicts++;
      lowest(version);
    }
  };

  const secret = await store.getRingSecret();
  if (secret !== undefined)
    await one('ring', { kind: 'ring' }, secret.wrappedKey, { keyId: '$ring', version: 1 });
  for (const key of await store.loadKeys()) {
    for (const v of key.versions) {
      if (options.signal?.aborted) return report;
      await one(
        `key:${key.keyId}/${v.version}`,
        { kind: 'version', keyId: key.keyId, version: v.version },
        v.wrappedKey,
        { keyId: key.keyId, version: v.version },
      );
    }
  }
  let after: string | undefined;
  for (;;) {
    const page = await store.listSubjects(after, pageSize);
    for (const subject of page) {
      if (options.signal?.aborted) return report;
      if (subject.wrappedKey === null || subject.shreddedAt) continue;
      await one(
        `subject:${subject.subjectRef}`,
        { kind: 'subject', subjectRef: subject.subjectRef },
        subject.wrappedKey,
        { keyId: `$subject:${subject.subjectRef}`, version: 1 },
      );
    }
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.subjectRef;
  }
  report.lowestVersion = lowestSeen;
  report.finished = true;
  return report;
}
