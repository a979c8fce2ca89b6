import type { SubjectDataSource, SubjectRecord } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { ClinicalNote } from './entities/clinical-note';
import { ClinicUser } from './entities/clinic-user';
import { Patient } from './entities/patient';

/**
 * The clinic database as a data-subject source: what an export contains (GDPR Art. 15 / 20,
 * HIPAA 164.524 right of access) and what erasure deletes. Field labels come from the entities'
 * classification decorators (the registry), so the export says which values are PHI.
 */
export function clinicRecordsSource(dataSource: DataSource): SubjectDataSource {
  return {
    id: 'clinic-records',
    describe: 'Your patient record, clinical notes and login account at the clinic',
    async export(subjectId: string): Promise<SubjectRecord[]> {
      const records: SubjectRecord[] = [];
      const patient = await dataSource.getRepository(Patient).findOneBy({ id: subjectId });
      if (patient !== null) {
        records.push({
          type: 'Patient',
          id: patient.id,
          fields: {
            fullName: patient.fullName,
            email: patient.email,
            ssn: patient.ssn,
            dateOfBirth: patient.dateOfBirth,
            diagnosis: patient.diagnosis,
            ward: patient.ward,
            createdAt: patient.createdAt,
          },
        });
        const notes = await dataSource.getRepository(ClinicalNote).find({
          where: { patientId: subjectId },
          order: { createdAt: 'ASC' },
        });
        for (const note of notes) {
          records.push({
            type: 'ClinicalNote',
            id: note.id,
            fields: { body: note.body, authorId: note.authorId, createdAt: note.createdAt },
          });
        }
      }
      const user = await dataSource.getRepository(ClinicUser).findOneBy({ id: subjectId });
      if (user !== null) {
        records.push({
          type: 'ClinicUser',
          id: user.id,
          fields: { username: user.username, role: user.role, displayName: user.displayName },
          classification: { username: 'personal', displayName: 'personal' },
        });
      }
      return records;
    },
    // Idempotent (a retried erasure deletes nothing more). The patient's removal is an audited
    // entity change (its event is about the patient, so it is redacted with the others).
    async erase(subjectId: string): Promise<number> {
      return dataSource.transaction(async (manager) => {
        const actor = { id: 'dsr-erasure', type: 'system' as const };
        const notes = await manager.find(ClinicalNote, { where: { patientId: subjectId } });
        if (notes.length > 0) await manager.remove(notes, { data: { actor } });
        const patient = await manager.findOneBy(Patient, { id: subjectId });
        if (patient !== null) await manager.remove(patient, { data: { actor } });
        const user = await manager.findOneBy(ClinicUser, { id: subjectId });
        if (user !== null) await manager.remove(user);
        return notes.length + (patient === null ? 0 : 1) + (user === null ? 0 : 1);
      });
    },
  };
}
