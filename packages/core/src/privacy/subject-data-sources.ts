import { BulwarkError, BulwarkPrivacyError, ErrorCodes } from '../errors';
import type { ClassificationRegistry } from './classification-registry';
import {
  SUBJECT_EXPORT_FORMAT,
  type SubjectExport,
  type SubjectExportField,
  type SubjectExportSource,
} from './format-subject-export';
import { checkId, checkObject, checkText, compareText, privacyError } from './privacy-input';
import type { SubjectDataLabel, SubjectDataSource, SubjectDataValue } from './subject-data-source';

/**
 * The app's data sources a data-subject request reaches: registration, calls that fail as
 * ERR_DSR_SOURCE_FAILED (never with the source's own message, which may hold personal data), and
 * the export document built from their records.
 */
export class SubjectDataSources {
  private readonly sourceMap = new Map<string, SubjectDataSource>();

  /** `classification` labels export fields a source left unlabelled. */
  constructor(private readonly classification?: ClassificationRegistry) {}

  register(source: SubjectDataSource): void {
    const s = checkObject(source, 'dsr.source');
    const id = checkId(s.id, 'dsr.source.id');
    checkText(s.describe, `dsr.source ${id}.describe`, 1024);
    if (typeof s.export !== 'function') throw privacyError(`dsr.source ${id}.export`, 'must be a function');
    for (const m of ['erase', 'rectify'] as const) {
      if (s[m] !== undefined && typeof s[m] !== 'function') {
        throw privacyError(`dsr.source ${id}.${m}`, 'must be a function when given');
      }
    }
    if (this.sourceMap.has(id)) {
      throw new BulwarkPrivacyError(
        ErrorCodes.PRIVACY_DUPLICATE_ID,
        `data source ${id} is already registered`,
        { id },
      );
    }
    this.sourceMap.set(id, source);
  }

  /** Registered sources and what they support (evidence: erasure reaches every source). */
  list(): { id: string; describe: string; erase: boolean; rectify: boolean }[] {
    return [...this.sourceMap.values()]
      .map((s) => ({
        id: s.id,
        describe: s.describe,
        erase: s.erase !== undefined,
        rectify: s.rectify !== undefined,
      }))
      .sort((a, b) => compareText(a.id, b.id));
  }

  /** Sources in id order (every operation visits them in this order). */
  sorted(): SubjectDataSource[] {
    return [...this.sourceMap.values()].sort((a, b) => compareText(a.id, b.id));
  }

  /** Every source's records of the subject, as the export document (sources in id order). */
  async collect(requestId: string, subjectId: string, now: () => string): Promise<SubjectExport> {
    const sources: SubjectExportSource[] = [];
    for (const source of this.sorted()) {
      const records = await this.call(source, 'export', () => source.export(subjectId));
      if (!Array.isArray(records)) throw sourceFailed(source.id, 'export', 'did not return an array');
      sources.push({
        id: source.id,
        description: source.describe,
        records: records.map((rec, n) => this.exportRecord(source.id, rec, n)),
      });
    }
    return {
      format: SUBJECT_EXPORT_FORMAT,
      requestId,
      subjectId,
      generatedAt: now(),
      sources,
    };
  }

  /** Runs one source operation; a failure becomes ERR_DSR_SOURCE_FAILED naming the source. */
  async call<T>(source: SubjectDataSource, op: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof BulwarkError && error.code === ErrorCodes.DSR_SOURCE_FAILED) throw error;
      // The cause is attached for operators; its message is not copied (it may hold personal data).
      throw new BulwarkPrivacyError(
        ErrorCodes.DSR_SOURCE_FAILED,
        `data source ${source.id} failed to ${op}; the request stays in progress, retry it`,
        { sourceId: source.id, operation: op },
        { cause: error },
      );
    }
  }

  private exportRecord(sourceId: string, rec: unknown, n: number): SubjectExportSource['records'][number] {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      throw sourceFailed(sourceId, 'export', `record ${n} is not an object`);
    }
    const r = rec as Record<string, unknown>;
    if (typeof r.type !== 'string' || r.type === '')
      throw sourceFailed(sourceId, 'export', `record ${n} has no type`);
    if (r.id !== undefined && typeof r.id !== 'string')
      throw sourceFailed(sourceId, 'export', `record ${n} id is not a string`);
    if (r.fields === null || typeof r.fields !== 'object' || Array.isArray(r.fields)) {
      throw sourceFailed(sourceId, 'export', `record ${n} has no fields object`);
    }
    const labels = (r.classification ?? {}) as Record<string, unknown>;
    const fields: SubjectExportField[] = Object.entries(r.fields as Record<string, unknown>).map(
      ([name, value]) => {
        const given = labels[name];
        const label: SubjectDataLabel =
          given === 'personal' ||
          given === 'sensitive' ||
          given === 'phi' ||
          given === 'cardholder' ||
          given === 'none'
            ? given
            : (this.classification?.get(r.type as string, name)?.category ?? 'none');
        let v: SubjectDataValue;
        try {
          v = jsonValue(value, name);
        } catch {
          throw sourceFailed(
            sourceId,
            'export',
            `record ${n} field ${name.slice(0, 64)} is not a JSON value`,
          );
        }
        return { name, classification: label, value: v };
      },
    );
    return { type: r.type, ...(r.id === undefined ? {} : { id: r.id as string }), fields };
  }
}

export function sourceFailed(sourceId: string, op: string, why: string): BulwarkPrivacyError {
  return new BulwarkPrivacyError(ErrorCodes.DSR_SOURCE_FAILED, `data source ${sourceId} ${op}: ${why}`, {
    sourceId,
    operation: op,
  });
}

/** A JSON value from source output: Dates become ISO strings, undefined becomes null; anything else non-JSON throws. */
export function jsonValue(value: unknown, path: string, depth = 0): SubjectDataValue {
  if (depth > 32) throw privacyError(path, 'is nested too deeply');
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw privacyError(path, 'must be a finite number');
    return value;
  }
  if (value instanceof Date) {
    if (!Number.isFinite(value.getTime())) throw privacyError(path, 'is an invalid Date');
    return value.toISOString();
  }
  if (Array.isArray(value)) return value.map((v, i) => jsonValue(v, `${path}[${i}]`, depth + 1));
  if (
    typeof value === 'object' &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
  ) {
    const out: { [key: string]: SubjectDataValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonValue(v, `${path}.${k}`, depth + 1);
    return out;
  }
  throw privacyError(path, 'is not a JSON value');
}
