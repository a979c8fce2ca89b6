import { AuditedEntity } from '@bulwark/typeorm';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export interface OrderLine {
  sku: string;
  quantity: number;
  unitPriceCents: number;
}

/** An order refers to the card by its token: it never holds cardholder data. */
@AuditedEntity({ resourceType: 'order' })
@Entity('shop_order')
export class Order {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 40 })
  customerId!: string;

  @Column({ type: 'varchar', length: 40 })
  cardToken!: string;

  @Column({ type: 'simple-json' })
  lines!: OrderLine[];

  @Column({ type: 'integer' })
  totalCents!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: 'paid';

  @CreateDateColumn()
  createdAt!: Date;
}
