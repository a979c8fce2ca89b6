import type { RetentionSource } from '@bulwark/core';
import { Brackets, type DataSource } from 'typeorm';
import { ClinicalNote } from './entities/clinical-note';

/**
 * Clinical notes under retention management (category `phi`, ten years in app.ts): DataRetention
 * purges notes older than the period, never those of a patient under legal hold. Only ids and
 * dates are read: nothing is decrypted to decide what to delete.
 */
export function clinicNotesRetention(dataSource: DataSource): RetentionSource {
  const purgeable = (olderThan: Date, excludeSubjects: readonly string[]) => {
    const qb = dataSource
      .getRepository(ClinicalNote)
      .createQueryBuilder('note')
      .select('note.id', 'id')
      // ISO-8601 UTC strings order as the instants they name.
      .where('note.createdAt < :cutoff', { cutoff: olderThan.toISOString() });
    if (excludeSubjects.length > 0) {
      qb.andWhere(
        new Brackets((w) => w.where('note.patientId NOT IN (:...held)', { held: [...excludeSubjects] })),
      );
    }
    return qb;
  };
  return {
    id: 'clinical-notes',
    category: 'phi',
    supportsSubjectExclusion: true,
    async purge(olderThan, limit, context) {
      const rows: { id: string }[] = await purgeable(olderThan, context.excludeSubjects)
        .orderBy('note.createdAt', 'ASC')
        .limit(limit)
        .getRawMany();
      if (rows.length === 0) return 0;
      await dataSource.getRepository(ClinicalNote).delete(rows.map((r) => r.id));
      return rows.length;
    },
    countPurgeable(olderThan, context) {
      return purgeable(olderThan, context.excludeSubjects).getCount();
    },
  };
}
