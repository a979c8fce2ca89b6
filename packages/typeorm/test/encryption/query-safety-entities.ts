import 'reflect-metadata';
import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { BlindIndex, EncryptedField } from '../../src';

/** Entities of the query-safety tests (tables prefixed qs_, apart from the other suites'). */
@Entity('qs_account')
export class Account {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** Plain column whose name starts like the encrypted one's (no false positive on it). */
  @Column({ type: 'boolean', default: false })
  emailVerified!: boolean;

  /** Property `email`, database column `email_address`. */
  @EncryptedField({ nullable: true, name: 'email_address' })
  email!: string | null;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })
  emailIndex!: string | null;

  @EncryptedField({ deterministic: true, nullable: true })
  nationalId!: string | null;

  @EncryptedField({ nullable: true, lazy: true })
  bio!: string | null;

  @EncryptedField({ type: 'json', nullable: true, lazy: true })
  settings!: { theme: string } | null;
}

/** A plain entity with a plaintext `email` column: string conditions on it are not the guard's business. */
@Entity('qs_contact')
export class Contact {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  email!: string;

  @ManyToOne(() => Account, { nullable: true, onDelete: 'CASCADE' })
  @JoinColumn()
  account!: Relation<Account> | null;
}

/** An 8-bit blind index: collisions on purpose, so the confirming lookup is tested for real. */
@Entity('qs_tiny')
export class Tiny {
  @PrimaryGeneratedColumn()
  id!: number;

  @EncryptedField()
  code!: string;

  @BlindIndex({ source: 'code', bits: 8 })
  codeIndex!: string | null;
}

/** A lazy field bound to its row (uuid key, so the key is known before insert). */
@Entity('qs_lazy_note')
export class LazyNote {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 40 })
  title!: string;

  @EncryptedField({ bindToRow: true, lazy: true })
  body!: string;
}

export const querySafetyEntities = [Account, Contact, Tiny, LazyNote];
