import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Roles the policy knows (see policy.ts). */
export type ClinicRole = 'doctor' | 'nurse' | 'auditor' | 'patient' | 'researcher' | 'privacy-officer';

/**
 * A login. A patient's login shares its id with the patient record, so the token subject, the
 * `patient-owns-record` rule and data-subject requests all name the same person.
 */
@Entity('clinic_user')
export class ClinicUser {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 64, unique: true })
  username!: string;

  /** argon2id PHC string (never the password). */
  @Column({ type: 'varchar', length: 256, name: 'password_hash' })
  passwordHash!: string;

  @Column({ type: 'varchar', length: 32 })
  role!: ClinicRole;

  @Column({ type: 'varchar', length: 128, name: 'display_name' })
  displayName!: string;
}
