import { AuditedEntity, BlindIndex, CardholderData, EncryptedField } from '@bulwark/typeorm';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A saved card. PCI DSS v4.0 3.5.1: the stored PAN is unreadable, here by strong cryptography
 * (AES-256-GCM under a key wrapped by the master key, 3.6/3.7), bound to this row (a ciphertext
 * copied to another card row does not decrypt). The rest of the shop only ever sees the card
 * token (`id`) and a masked number; the card's last four digits are searchable through a blind
 * index (HMAC), never stored in clear next to the ciphertext.
 */
@AuditedEntity({ resourceType: 'card', category: 'cardholder' })
@Entity('shop_payment_card')
export class PaymentCard {
  /** The token orders refer to (`card_<random>`), meaningless outside the shop. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 40 })
  customerId!: string;

  @CardholderData()
  @EncryptedField({ keyId: 'cardholder', bindToRow: true })
  pan!: string;

  /** "My card ending in 4242" lookups without decrypting every card. */
  @BlindIndex({ source: 'pan', keyId: 'cardholder', normalise: ['digitsOnly', 'last4'] })
  panLast4Index!: string;

  /** Keyed hash of the whole PAN (PCI DSS 3.5.1.1): detects a card saved twice. */
  @BlindIndex({ source: 'pan', keyId: 'cardholder', normalise: ['digitsOnly'], bits: 64 })
  panFingerprint!: string;

  @CardholderData()
  @EncryptedField({ keyId: 'cardholder', bindToRow: true })
  cardholderName!: string;

  /** `MM/YY`. Stored with the PAN, so protected like it. */
  @CardholderData()
  @EncryptedField({ keyId: 'cardholder', bindToRow: true })
  expiry!: string;

  /** Derived from the first digits (not cardholder data on its own). */
  @Column({ type: 'varchar', length: 16 })
  brand!: string;

  @CreateDateColumn()
  createdAt!: Date;
}
