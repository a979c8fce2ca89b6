import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The users table AS FOUND (mode `before`): e-mail and bio in clear, the e-mail unique in the
 * database. `SecuredUser` (user.secured-entity.ts) is the same table after adopting Bulwark.
 */
@Entity('users')
export class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40, unique: true })
  username!: string;

  @Column({ type: 'varchar', length: 254, unique: true })
  email!: string;

  @Column({ type: 'text', nullable: true })
  bio!: string | null;

  /** `scrypt$<salt>$<hash>` (src/auth/passwords.ts). */
  @Column({ type: 'varchar', length: 255 })
  passwordHash!: string;

  @CreateDateColumn()
  createdAt!: Date;
}
