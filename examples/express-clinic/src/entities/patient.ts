import { AuditedEntity, BlindIndex, EncryptedField, PersonalData, PHI, Sensitive } from '@bulwark/typeorm';
import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A patient's demographic record. Every identifying or clinical field is encrypted under the
 * patient's own key (`subject: 'id'`), so erasing the patient crypto-shreds every copy of these
 * values, backups included (HIPAA 164.312(a)(2)(iv), GDPR Art. 17). Email and SSN carry blind
 * indexes: staff can look a patient up by either without the database ever seeing plaintext.
 */
@AuditedEntity({ resourceType: 'patients', category: 'phi-access' })
@Entity('patient')
export class Patient {
  /** Also the patient's login subject (`sub`) and data-subject id. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @PersonalData({ purpose: 'treatment' })
  @EncryptedField({ subject: 'id', bindToRow: true, name: 'full_name' })
  fullName!: string;

  @PersonalData({ purpose: 'treatment' })
  @EncryptedField({ subject: 'id', bindToRow: true, nullable: true })
  email!: string | null;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'], nullable: true, name: 'email_index' })
  emailIndex!: string | null;

  @Sensitive({ purpose: 'billing' })
  @EncryptedField({ subject: 'id', bindToRow: true, nullable: true })
  ssn!: string | null;

  // digitsOnly: `123-45-6789` and `123 45 6789` find the same patient.
  @BlindIndex({ source: 'ssn', normalise: ['digitsOnly'], nullable: true, name: 'ssn_index' })
  ssnIndex!: string | null;

  @PHI({ purpose: 'treatment' })
  @EncryptedField({ subject: 'id', bindToRow: true, name: 'date_of_birth' })
  dateOfBirth!: string;

  @PHI({ purpose: 'treatment' })
  @EncryptedField({ subject: 'id', bindToRow: true, nullable: true })
  diagnosis!: string | null;

  /** Not identifying on its own: kept in clear so wards can be listed without decrypting. */
  @Column({ type: 'varchar', length: 32 })
  ward!: string;

  @Column({ type: 'varchar', length: 32, name: 'created_at' })
  createdAt!: string;
}
