import 'reflect-metadata';
import {
  Column,
  Entity,
  JoinColumn,
  ManyToOne,
  OneToMany,
  OneToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import {
  BlindIndex,
  EncryptedField,
  PersonalData,
  PHI,
  Sensitive,
  CardholderData,
  Audited,
  AuditedEntity,
} from '../../src';

@AuditedEntity()
@Entity('enc_user')
export class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @PersonalData()
  @EncryptedField({ nullable: true })
  email!: string | null;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })
  emailIndex!: string | null;

  @Sensitive()
  @EncryptedField({ deterministic: true, nullable: true })
  nationalId!: string | null;

  @EncryptedField({ type: 'json', nullable: true })
  profile!: { tags: string[]; nested: { n: number } } | null;

  @EncryptedField({ type: 'number', nullable: true })
  age!: number | null;

  @EncryptedField({ type: 'date', nullable: true })
  birthday!: Date | null;

  @EncryptedField({ type: 'boolean', nullable: true })
  verified!: boolean | null;

  @EncryptedField({ type: 'buffer', nullable: true })
  avatar!: Buffer | null;

  @OneToMany(() => Note, (n) => n.user, { cascade: true })
  notes!: Relation<Note[]>;

  @OneToOne(() => Card, (c) => c.user, { cascade: true, eager: true, nullable: true })
  @JoinColumn()
  card!: Relation<Card> | null;
}

@Entity('enc_card')
export class Card {
  @PrimaryGeneratedColumn()
  id!: number;

  @CardholderData()
  @EncryptedField()
  pan!: string;

  @OneToOne(() => User, (u) => u.card)
  user!: Relation<User>;
}

@Entity('enc_note')
export class Note {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @EncryptedField({ bindToRow: true })
  body!: string;

  @ManyToOne(() => User, (u) => u.notes, { onDelete: 'CASCADE', lazy: false })
  user!: Relation<User>;
}

@Audited({ resourceType: 'patient' })
@Entity('enc_patient')
export class Patient {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  patientId!: string;

  @PHI({ purpose: 'treatment' })
  @EncryptedField({ subject: 'patientId', bindToRow: true, nullable: true })
  diagnosis!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ward!: string | null;

  @ManyToOne(() => Clinic, { nullable: true, lazy: true })
  clinic!: Promise<Clinic | null>;
}

@Entity('enc_clinic')
export class Clinic {
  @PrimaryGeneratedColumn()
  id!: number;

  @EncryptedField()
  address!: string;
}

/** Composite primary key, row-bound: rewrap must page through (tenant, seq). */
@Entity('enc_ledger')
export class Ledger {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  tenant!: string;

  @PrimaryColumn({ type: 'integer' })
  seq!: number;

  @EncryptedField({ bindToRow: true })
  memo!: string;

  @EncryptedField({ nullable: true })
  note!: string | null;
}

/** Subject-keyed but not row-bound: only the subject check stops a value copied between subjects. */
@Entity('enc_memo')
export class Memo {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ownerId!: string | null;

  @EncryptedField({ subject: 'ownerId' })
  text!: string;
}

export const allEntities = [User, Card, Note, Patient, Clinic, Ledger, Memo];
