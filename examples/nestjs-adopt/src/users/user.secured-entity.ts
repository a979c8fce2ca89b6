import { BlindIndex, EncryptedField, PersonalData } from '@bulwark/typeorm';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The same `users` table AFTER adopting Bulwark (mode `after`). The diff against user.entity.ts
 * is the whole entity-side change:
 *   - `email` and `bio`: `@EncryptedField` (AES-256-GCM envelopes under key `users`) instead of
 *     `@Column`. The column becomes `text`; existing rows are encrypted in place by
 *     `encryptExistingRows` (src/adopt/adopt-database.ts).
 *   - `emailIndex`: a blind index (HMAC of the trimmed, lower-cased e-mail) for the login lookup
 *     and the duplicate check, with a database index. It replaces the UNIQUE constraint on the
 *     e-mail: ciphertexts are random, and a truncated blind index may collide, so uniqueness is
 *     checked by the app with `findByBlindIndex`, which confirms every candidate by decrypting it.
 */
@Entity('users')
export class SecuredUser {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40, unique: true })
  username!: string;

  // Lazy: decrypted on first read. Article pages load every author's row but never show the
  // e-mail, so they pay no decryption for it (only /user, login and sign-up read it).
  @PersonalData()
  @EncryptedField({ keyId: 'users', lazy: true })
  email!: string;

  // @BlindIndex declares the database index itself (and keeps the value out of JSON).
  @BlindIndex({ source: 'email', keyId: 'users', normalise: ['trim', 'lowercase'] })
  emailIndex!: string;

  @PersonalData()
  @EncryptedField({ keyId: 'users', nullable: true })
  bio!: string | null;

  @Column({ type: 'varchar', length: 255 })
  passwordHash!: string;

  @CreateDateColumn()
  createdAt!: Date;
}

/** What both modes' services read and write. */
export type AnyUser = Omit<SecuredUser, 'emailIndex'>;
