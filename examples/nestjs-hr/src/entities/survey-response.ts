import { AuditedEntity, EncryptedField, Sensitive } from '@bulwark/typeorm';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A wellbeing survey answer: collected only with the employee's consent ('wellbeing-survey'),
 * free text encrypted (it may reveal health data, GDPR Art. 9). HR sees aggregates only.
 */
@AuditedEntity({ resourceType: 'survey-response', category: 'hr' })
@Entity('hr_survey_response')
export class SurveyResponse {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 40 })
  employeeId!: string;

  /** 1 (struggling) to 5 (thriving). */
  @Column({ type: 'integer' })
  score!: number;

  @Sensitive()
  @EncryptedField({ keyId: 'hr', bindToRow: true, nullable: true })
  comment!: string | null;

  /** The consent text version the answer was collected under. */
  @Column({ type: 'integer' })
  consentVersion!: number;

  @CreateDateColumn()
  createdAt!: Date;
}
