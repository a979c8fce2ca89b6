import { BlindIndex, EncryptedField, PersonalData } from '@bulwark/typeorm';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export type ShopRole = 'customer' | 'staff';

/**
 * A shop account. The e-mail is personal data: encrypted at rest, found at login through a blind
 * index (HMAC of the normalised address), so the database never holds it in clear.
 */
@Entity('shop_customer')
export class Customer {
  /** `cus_<random>`: also the JWT subject and the consent subject. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @PersonalData()
  @EncryptedField()
  email!: string;

  // Not unique: a 32-bit index has (rare) collisions; findByBlindIndex drops the false positives.
  @Index()
  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })
  emailIndex!: string;

  @PersonalData()
  @EncryptedField()
  name!: string;

  /** argon2id (PHC string): never the password. */
  @Column({ type: 'varchar', length: 255 })
  passwordHash!: string;

  @Column({ type: 'varchar', length: 16 })
  role!: ShopRole;

  @CreateDateColumn()
  createdAt!: Date;
}
