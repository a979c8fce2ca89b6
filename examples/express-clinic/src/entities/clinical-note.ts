import { EncryptedField, PHI } from '@bulwark/typeorm';
import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A clinician's note on a patient. The body is PHI, encrypted under the patient's key and bound to
 * its row: a note body copied into another row (or another patient's chart) does not decrypt.
 *
 * Not @AuditedEntity on purpose: an entity event would be about the note (resource `notes/<id>`) yet
 * carry the patient id in its diff, and erasure redacts the audit entries whose actor or resource
 * is the patient. Note reads and writes are audited by the request events instead, whose resource
 * is `patients/<patient id>` (see the routes), so they are redacted with the rest.
 */
@Entity('clinical_note')
export class ClinicalNote {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 64, name: 'patient_id' })
  patientId!: string;

  @Column({ type: 'varchar', length: 64, name: 'author_id' })
  authorId!: string;

  @PHI({ purpose: 'treatment' })
  @EncryptedField({ subject: 'patientId', bindToRow: true })
  body!: string;

  @Column({ type: 'varchar', length: 32, name: 'created_at' })
  createdAt!: string;
}
