import type { ConsentRecord, ConsentStore } from './consent-store';

/** Consent events in process memory: tests, demos, single-process apps that keep nothing. */
export class MemoryConsentStore implements ConsentStore {
  private readonly records: ConsentRecord[] = [];

  async append(record: ConsentRecord): Promise<void> {
    this.records.push(Object.freeze({ ...record }));
  }

  async latest(subjectId: string, purposeId: string): Promise<ConsentRecord | undefined> {
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (r.subjectId === subjectId && r.purposeId === purposeId) return r;
    }
    return undefined;
  }

  async history(subjectId: string, purposeId?: string): Promise<ConsentRecord[]> {
    return this.records.filter(
      (r) => r.subjectId === subjectId && (purposeId === undefined || r.purposeId === purposeId),
    );
  }

  async countGranted(purposeId: string): Promise<number> {
    const latest = new Map<string, ConsentRecord>();
    for (const r of this.records) if (r.purposeId === purposeId) latest.set(r.subjectId, r);
    return [...latest.values()].filter((r) => r.action === 'granted').length;
  }

  /** Removes every record of a subject (for apps whose erasure policy includes consent proof). */
  async deleteSubject(subjectId: string): Promise<number> {
    let removed = 0;
    for (let i = this.records.length - 1; i >= 0; i--) {
      if (this.records[i]!.subjectId === subjectId) {
        this.records.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }
}
