import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** The demo's outbox: marketing e-mails "sent" (only ever to customers holding a consent). */
@Entity('shop_marketing_email')
export class MarketingEmail {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40 })
  customerId!: string;

  @Column({ type: 'varchar', length: 200 })
  subject!: string;

  /** The consent text version the customer had granted when this was sent (proof). */
  @Column({ type: 'integer' })
  consentVersion!: number;

  @CreateDateColumn()
  sentAt!: Date;
}
