import { BulwarkConfigError, ErrorCodes, KeyRing } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import {
  registerClassifications,
  defaultClassificationSink,
  type ClassificationSink,
} from './classification';
import { EncryptionContext, peekActiveContext, setActiveContext } from './encryption-context';
import { BulwarkEncryptionSubscriber } from './encryption-subscriber';
import { fieldRegistry } from './field-registry';
import { installQueryGuards } from './query-guards';

export interface BulwarkEncryptionOptions {
  keyRing: KeyRing;
  /** Key of fields without their own `keyId` (default `default`). */
  defaultKeyId?: string;
  /** Create missing keys named by the entities (default true); false: a missing key is an error. */
  createKeys?: boolean;
  /** Where classification decorators are recorded (default core's defaultClassificationRegistry). */
  classificationRegistry?: ClassificationSink;
}

export interface BulwarkEncryption {
  readonly subscriber: BulwarkEncryptionSubscriber;
  /** Removes the subscriber and deactivates the key ring for the column transformers. */
  unregister(): void;
}

/**
 * The one set-up call: after `await dataSource.initialize()`,
 *
 *   await registerBulwarkEncryption(dataSource, { keyRing });
 *
 * It resolves every @EncryptedField / @BlindIndex against the DataSource's metadata (bad
 * declarations fail here, not on the first query), makes sure their keys exist, adds the
 * encryption subscriber to the DataSource, installs the query guards and feeds classifications
 * to the registry. One key ring per process: the column transformers are shared by every
 * DataSource that maps the same entity classes; registering a second ring while another
 * DataSource still uses a different one is refused.
 */
export async function registerBulwarkEncryption(
  dataSource: DataSource,
  options: BulwarkEncryptionOptions,
): Promise<BulwarkEncryption> {
  if (options === null || typeof options !== 'object' || !(options.keyRing instanceof KeyRing)) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'registerBulwarkEncryption: keyRing must be a KeyRing',
      {
        path: 'keyRing',
      },
    );
  }
  if (!dataSource?.isInitialized) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'registerBulwarkEncryption: initialize the DataSource first (its entity metadata is needed)',
      { path: 'dataSource' },
    );
  }
  const defaultKeyId = options.defaultKeyId ?? 'default';
  const previous = peekActiveContext();
  if (
    previous !== undefined &&
    previous.keyRing !== options.keyRing &&
    previous.dataSource !== dataSource &&
    previous.dataSource.isInitialized
  ) {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'registerBulwarkEncryption: another DataSource is still registered with a different key ring (one ring per process)',
      { path: 'keyRing' },
    );
  }
  const ctx = new EncryptionContext(options.keyRing, defaultKeyId, dataSource);
  const keyIds = new Set<string>();
  for (const metadata of dataSource.entityMetadatas) {
    for (const spec of fieldRegistry.encrypted(metadata.target)) {
      const field = ctx.field(spec);
      keyIds.add(field.keyId);
      if (spec.subject !== undefined && !metadata.findColumnWithPropertyPath(spec.subject)) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          `${metadata.name}.${spec.property}: subject ${spec.subject} is not a column of ${metadata.name}`,
          { path: `${metadata.name}.${spec.property}.subject` },
        );
      }
    }
    for (const spec of fieldRegistry.blindIndexes(metadata.target)) {
      keyIds.add(ctx.blindIndex(spec).keyId);
      if (!metadata.findColumnWithPropertyPath(spec.source)) {
        throw new BulwarkConfigError(
          ErrorCodes.CONFIG_INVALID,
          `${metadata.name}.${spec.property}: source ${spec.source} is not a column of ${metadata.name}`,
          { path: `${metadata.name}.${spec.property}.source` },
        );
      }
    }
  }
  for (const keyId of keyIds) {
    if (options.keyRing.has(keyId)) continue;
    if (options.createKeys === false) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `registerBulwarkEncryption: key ${keyId} does not exist`,
        {
          path: 'keyRing',
        },
      );
    }
    await options.keyRing.ensureKey(keyId);
  }
  installQueryGuards();
  const subscriber = new BulwarkEncryptionSubscriber(ctx);
  const subscribers = dataSource.subscribers as unknown as object[];
  for (let i = subscribers.length - 1; i >= 0; i--) {
    if (subscribers[i] instanceof BulwarkEncryptionSubscriber) subscribers.splice(i, 1);
  }
  // First in the list: later subscribers (e.g. the audit subscriber) see sealed values in before*
  // events and plaintext again in after* events.
  subscribers.unshift(subscriber);
  setActiveContext(ctx);
  registerClassifications(dataSource, options.classificationRegistry ?? defaultClassificationSink());
  return {
    subscriber,
    unregister() {
      const i = subscribers.indexOf(subscriber);
      if (i >= 0) subscribers.splice(i, 1);
      if (peekActiveContext() === ctx) setActiveContext(undefined);
    },
  };
}

/** What registerBulwarkEncryption last activated in this process. */
export interface ActiveEncryption {
  readonly dataSource: DataSource;
  readonly keyRing: KeyRing;
  readonly defaultKeyId: string;
}

/**
 * The DataSource, key ring and `defaultKeyId` the column transformers currently use (undefined
 * when nothing is registered): tools that run the app's entities (e.g. `bulwark keys rewrap`)
 * reuse it instead of registering again with other defaults.
 */
export function activeEncryption(): ActiveEncryption | undefined {
  const ctx = peekActiveContext();
  return ctx === undefined
    ? undefined
    : { dataSource: ctx.dataSource, keyRing: ctx.keyRing, defaultKeyId: ctx.defaultKeyId };
}
