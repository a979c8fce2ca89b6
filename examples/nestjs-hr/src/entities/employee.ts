import { AuditedEntity, BlindIndex, EncryptedField, PersonalData, Sensitive } from '@bulwark/typeorm';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export type HrRole = 'hr-admin' | 'manager' | 'employee';
export const HR_ROLES: readonly HrRole[] = ['hr-admin', 'manager', 'employee'];

/** National ids are compared without spaces or dashes, case-insensitively (`AB 12-34` = `ab1234`). */
export const normaliseNationalId = (value: string): string => value.replace(/[\s-]/g, '').toUpperCase();

/**
 * An employee. Salary and national id are encrypted at rest (AES-256-GCM, key `hr`); the
 * national id is bound to its row and searchable only through a blind index (HMAC), so an HR
 * admin can find "who has this id" without the database ever holding it in clear.
 * @AuditedEntity: every insert / update / delete is an audit event whose encrypted fields read
 * `[ENCRYPTED]` (what changed, never the value).
 */
@AuditedEntity({ resourceType: 'employee', category: 'hr' })
@Entity('hr_employee')
export class Employee {
  /** `emp-<n>`: the JWT subject and the consent subject. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @PersonalData()
  @EncryptedField({ keyId: 'hr' })
  email!: string;

  @Index()
  @BlindIndex({ source: 'email', keyId: 'hr', normalise: ['trim', 'lowercase'] })
  emailIndex!: string;

  @Column({ type: 'varchar', length: 16 })
  role!: HrRole;

  @Column({ type: 'varchar', length: 60 })
  department!: string;

  /** Whose report this is (null for the top of the tree). */
  @Index()
  @Column({ type: 'varchar', length: 40, nullable: true })
  managerId!: string | null;

  @Sensitive()
  @EncryptedField({ keyId: 'hr', bindToRow: true })
  nationalId!: string;

  @Index()
  @BlindIndex({ source: 'nationalId', keyId: 'hr', normalise: [normaliseNationalId] })
  nationalIdIndex!: string;

  /** Yearly gross salary in whole euros. */
  @Sensitive()
  @EncryptedField({ keyId: 'hr', type: 'number', bindToRow: true })
  salary!: number;

  /** argon2id (PHC string). */
  @Column({ type: 'varchar', length: 255 })
  passwordHash!: string;

  @CreateDateColumn()
  createdAt!: Date;
}
