import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import { Column, type ColumnOptions } from 'typeorm';
import { EncryptedColumnTransformer } from './encrypted-column-transformer';
import { inferType } from './field-codec';
import { fieldRegistry, type EncryptedFieldSpec, type EncryptedValueType } from './field-registry';

export interface EncryptedFieldOptions {
  /** Key ring key id; default the `defaultKeyId` of registerBulwarkEncryption (itself `default`). */
  keyId?: string;
  /**
   * Deterministic encryption (equal plaintext -> equal envelope) so `Equal` / `In` / `Not` queries
   * work on the column. Reveals which rows share a value; prefer a @BlindIndex where possible.
   * Not combinable with bindToRow or subject.
   */
  deterministic?: boolean;
  /**
   * Also bind the envelope to the row's primary key, so a value copied into another row fails to
   * decrypt. Needs a key known before insert (set it, or a `uuid` primary generated column, which
   * the subscriber then fills in itself).
   */
  bindToRow?: boolean;
  /**
   * Property holding the data subject's id: the value is encrypted under that subject's own key
   * (KeyRing.encryptForSubject), so `keyRing.shred(subjectId)` makes it unreadable everywhere.
   */
  subject?: string;
  /**
   * Value type. Default: from the property's TypeScript type when it is unambiguous (`number`,
   * `boolean`, `Date`, `Buffer`, arrays), else `string`. TypeScript reports unions such as
   * `Date | null` and interfaces as Object, so nullable non-string fields must say their type.
   */
  type?: EncryptedValueType;
  /** Associated-data context replacing `<table>.<column>` (keep old data readable after a rename). */
  aad?: string;
  /**
   * Decrypt on first access instead of at load (default false): a loaded entity holds the
   * envelope behind a getter, so lists that never read the field pay no decryption. Reading the
   * property (including JSON.stringify, spreading, class-transformer) decrypts it once; a tampered
   * value then fails at that access, not in find(). Saving the entity with the field untouched
   * leaves the stored envelope as it is. Not combinable with subject (its key loads
   * asynchronously). See ENCRYPTION.md, "Lazy decryption".
   */
  lazy?: boolean;
  /** Passed to @Column (`type` is always `text`; `transformer` is Bulwark's). */
  nullable?: boolean;
  name?: string;
  column?: Omit<ColumnOptions, 'type' | 'transformer' | 'nullable' | 'name'>;
}

const TYPES: readonly EncryptedValueType[] = ['string', 'json', 'number', 'date', 'boolean', 'buffer'];

function config(path: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `${path}: ${message}`, { path });
}

/**
 * Declares an encrypted column: a `text` column holding a Bulwark envelope, with the transformer
 * and subscriber hooks that encrypt on every write and decrypt on every read. Use it INSTEAD of
 * @Column (it declares the column itself, so the database type is always text whatever the
 * property's type):
 *
 *   @EncryptedField({ nullable: true }) email!: string | null;
 *   @EncryptedField({ type: 'json' }) address!: Address;
 *
 * null / undefined stay SQL NULL (never encrypted); '' is encrypted (told apart from NULL).
 */
export function EncryptedField(options: EncryptedFieldOptions = {}): PropertyDecorator {
  return (prototype: object, propertyKey: string | symbol) => {
    const target = prototype.constructor;
    const property = String(propertyKey);
    const path = `${target.name}.${property}`;
    if (options === null || typeof options !== 'object') throw config(path, 'options must be an object');
    if (options.keyId !== undefined && (typeof options.keyId !== 'string' || options.keyId === '')) {
      throw config(`${path}.keyId`, 'must be a non-empty string');
    }
    if (options.type !== undefined && !TYPES.includes(options.type)) {
      throw config(`${path}.type`, `must be one of ${TYPES.join(', ')}`);
    }
    if (options.subject !== undefined && (typeof options.subject !== 'string' || options.subject === '')) {
      throw config(`${path}.subject`, 'must name a property');
    }
    if (options.aad !== undefined && (typeof options.aad !== 'string' || options.aad === '')) {
      throw config(`${path}.aad`, 'must be a non-empty string');
    }
    const deterministic = options.deterministic === true;
    const bindToRow = options.bindToRow === true;
    if (deterministic && (bindToRow || options.subject !== undefined)) {
      // Equality lookups need one envelope per plaintext; a row id or subject key would make it many.
      throw config(`${path}.deterministic`, 'cannot be combined with bindToRow or subject');
    }
    if (options.lazy !== undefined && typeof options.lazy !== 'boolean') {
      throw config(`${path}.lazy`, 'must be a boolean');
    }
    const lazy = options.lazy === true;
    if (lazy && options.subject !== undefined) {
      // A getter is synchronous; a subject's key may have to be loaded from the key store first.
      throw config(`${path}.lazy`, 'cannot be combined with subject (its key loads asynchronously)');
    }
    const designType = (
      Reflect as unknown as { getMetadata?: (k: string, t: object, p: string | symbol) => unknown }
    ).getMetadata?.('design:type', prototype, propertyKey);
    const type = options.type ?? inferType(designType);
    const spec = {
      target,
      property,
      keyId: options.keyId,
      deterministic,
      bindToRow,
      subject: options.subject,
      type,
      aad: options.aad,
      lazy,
    } as Omit<EncryptedFieldSpec, 'transformer'> as EncryptedFieldSpec;
    (spec as { transformer: EncryptedColumnTransformer }).transformer = new EncryptedColumnTransformer(spec);
    fieldRegistry.addEncrypted(Object.freeze(spec));
    Column({
      ...options.column,
      type: 'text',
      nullable: options.nullable ?? false,
      ...(options.name === undefined ? {} : { name: options.name }),
      transformer: spec.transformer,
    })(prototype, propertyKey);
  };
}
