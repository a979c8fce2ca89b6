import * as core from '@bulwark/core';
import { BulwarkConfigError, ErrorCodes } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { fieldRegistry, type ClassificationCategory } from './field-registry';

const CATEGORIES: readonly ClassificationCategory[] = ['personal', 'sensitive', 'phi', 'cardholder'];

/** What classification decorators feed: core's ClassificationRegistry fits it. */
export interface ClassificationSink {
  register(input: {
    entity: string;
    field: string;
    category: ClassificationCategory;
    encrypted: boolean;
    blindIndexed?: boolean;
    purpose?: string;
    /** Plaintext values served from the encrypted column (transitional read mode); absent when none. */
    plaintextReads?: number;
  }): unknown;
}

/**
 * Marks a property as classified data. The class is recorded at decoration time; the registry
 * entry (with whether the field is encrypted and blind-indexed, which other decorators on the
 * same property decide, in any order) is written by registerBulwarkEncryption or
 * registerClassifications.
 */
export function Classified(
  category: ClassificationCategory,
  options: { purpose?: string } = {},
): PropertyDecorator {
  return (prototype: object, propertyKey: string | symbol) => {
    const target = prototype.constructor;
    const path = `${target.name}.${String(propertyKey)}`;
    if (!CATEGORIES.includes(category)) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        `${path}: classification must be one of ${CATEGORIES.join(', ')}`,
        {
          path,
        },
      );
    }
    fieldRegistry.addClassification(
      Object.freeze({ target, property: String(propertyKey), category, purpose: options.purpose }),
    );
  };
}

/** Personal data (GDPR art. 4(1)). */
export const PersonalData = (options?: { purpose?: string }): PropertyDecorator =>
  Classified('personal', options);
/** Special-category / sensitive data (GDPR art. 9), credentials-adjacent data. */
export const Sensitive = (options?: { purpose?: string }): PropertyDecorator =>
  Classified('sensitive', options);
/** Protected health information (HIPAA 45 CFR 160.103). */
export const PHI = (options?: { purpose?: string }): PropertyDecorator => Classified('phi', options);
/** PCI DSS cardholder data (PAN, cardholder name, expiry, service code). */
export const CardholderData = (options?: { purpose?: string }): PropertyDecorator =>
  Classified('cardholder', options);

/**
 * core's process-wide `defaultClassificationRegistry`, looked up by name so this package keeps
 * working against a core build that predates it.
 */
export function defaultClassificationSink(): ClassificationSink | undefined {
  const candidate = (core as unknown as { defaultClassificationRegistry?: ClassificationSink })
    .defaultClassificationRegistry;
  return typeof candidate?.register === 'function' ? candidate : undefined;
}

/**
 * Writes the classified fields of the DataSource's entities into `sink` (default: core's
 * process-wide registry), entity named by its TypeORM entity name. Returns how many were written.
 */
export function registerClassifications(
  dataSource: DataSource,
  sink = defaultClassificationSink(),
  only?: { entity: string; field: string; plaintextReads: number },
): number {
  if (sink === undefined) return 0;
  let count = 0;
  for (const metadata of dataSource.entityMetadatas) {
    if (only !== undefined && metadata.name !== only.entity) continue;
    const target = metadata.target;
    const encrypted = new Set(fieldRegistry.encrypted(target).map((s) => s.property));
    const indexed = new Set(fieldRegistry.blindIndexes(target).map((s) => s.source));
    for (const spec of fieldRegistry.classified(target)) {
      if (only !== undefined && spec.property !== only.field) continue;
      sink.register({
        entity: metadata.name,
        field: spec.property,
        category: spec.category,
        encrypted: encrypted.has(spec.property),
        blindIndexed: indexed.has(spec.property),
        ...(spec.purpose === undefined ? {} : { purpose: spec.purpose }),
        ...(only !== undefined && only.plaintextReads > 0 ? { plaintextReads: only.plaintextReads } : {}),
      });
      count++;
    }
  }
  return count;
}

/** The classification of one property, if any (used by the audit subscriber's redaction). */
export function classificationOf(target: unknown, property: string): ClassificationCategory | undefined {
  return fieldRegistry.classified(target).find((s) => s.property === property)?.category;
}
