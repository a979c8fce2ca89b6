import { randomBytes } from 'node:crypto';
import { PasswordSignIn, type AuditActor, type Bulwark } from '@bulwark/core';
import { findByBlindIndex } from '@bulwark/typeorm';
import type { DataSource, Repository } from 'typeorm';
import {
  brandOf,
  CardInputError,
  last4,
  maskPan,
  normaliseCardholderName,
  normaliseExpiry,
  normalisePan,
} from './card-numbers';
import { Customer, type ShopRole } from './entities/customer';
import { MarketingEmail } from './entities/marketing-email';
import { Order, type OrderLine } from './entities/order';
import { PaymentCard } from './entities/payment-card';
import { catalogue, marketingPurpose } from './shop-policy';

/** What leaves the server about a card: the token and the masked number, never the PAN. */
export interface CardView {
  token: string;
  brand: string;
  last4: string;
  masked: string;
  expiry: string;
  cardholderName: string;
}

export class ShopInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ShopInputError';
  }
}

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

export function cardView(card: PaymentCard): CardView {
  return {
    token: card.id,
    brand: card.brand,
    last4: last4(card.pan),
    masked: maskPan(card.pan),
    expiry: card.expiry,
    cardholderName: card.cardholderName,
  };
}

export const DEMO_USERS: readonly { email: string; name: string; password: string; role: ShopRole }[] = [
  { email: 'alice@shop.example', name: 'Alice Shopper', password: 'alice-demo-password', role: 'customer' },
  { email: 'bob@shop.example', name: 'Bob Shopper', password: 'bob-demo-password', role: 'customer' },
  { email: 'sam@shop.example', name: 'Sam Staff', password: 'sam-demo-password', role: 'staff' },
];

/** The shop's domain logic: plain TypeORM repositories, encrypted transparently by @bulwark/typeorm. */
export class ShopService {
  readonly customers: Repository<Customer>;
  readonly cards: Repository<PaymentCard>;
  readonly orders: Repository<Order>;
  readonly outbox: Repository<MarketingEmail>;
  /** Verifies passwords and audits each sign-in as `auth.login` (method `password`, ASVS V16.3.1). */
  readonly #signIn: PasswordSignIn;

  constructor(
    dataSource: DataSource,
    private readonly bulwark: Bulwark,
  ) {
    this.customers = dataSource.getRepository(Customer);
    this.cards = dataSource.getRepository(PaymentCard);
    this.orders = dataSource.getRepository(Order);
    this.outbox = dataSource.getRepository(MarketingEmail);
    this.#signIn = new PasswordSignIn({ passwords: bulwark.passwords, audit: bulwark.auditLog! });
  }

  /** Creates the demo accounts (and a saved card for Alice) on an empty database. */
  async seed(): Promise<void> {
    if ((await this.customers.count()) > 0) return;
    const system: AuditActor = { id: 'seed', type: 'system' };
    for (const user of DEMO_USERS) {
      const customer = this.customers.create({
        id: newId('cus'),
        email: user.email,
        name: user.name,
        role: user.role,
        passwordHash: await this.bulwark.passwords.hash(user.password),
      });
      await this.customers.save(customer, { data: { actor: system } });
      if (user.email.startsWith('alice@')) {
        await this.saveCard(
          customer.id,
          { pan: '4242 4242 4242 4242', expiry: '12/34', cardholderName: 'Alice Shopper' },
          system,
        );
      }
    }
  }

  async findCustomerByEmail(email: string): Promise<Customer | undefined> {
    const [found] = await findByBlindIndex(this.customers, 'emailIndex', email);
    return found;
  }

  async customer(id: string): Promise<Customer | null> {
    return this.customers.findOneBy({ id });
  }

  /**
   * argon2id check, audited as `auth.login` with method `password` (success or failure, never the
   * password; the resource is the customer id, not the e-mail). An unknown e-mail costs one
   * verification too (no account enumeration by timing).
   */
  async authenticate(
    email: unknown,
    password: unknown,
    request: { ip?: string; requestId?: string } = {},
  ): Promise<Customer | undefined> {
    if (
      typeof email !== 'string' ||
      typeof password !== 'string' ||
      email.length > 254 ||
      password.length > 1024
    ) {
      return undefined;
    }
    const customer = await this.findCustomerByEmail(email);
    const check = await this.#signIn.verify({
      account: customer?.id ?? 'unknown',
      hash: customer?.passwordHash,
      password,
      ...(customer ? { userId: customer.id } : {}),
      ...request,
    });
    if (!check.valid || customer === undefined) return undefined;
    if (check.needsRehash) {
      customer.passwordHash = await this.bulwark.passwords.hash(password);
      await this.customers.save(customer, { data: { actor: { id: customer.id, type: 'user' } } });
    }
    return customer;
  }

  async saveCard(
    customerId: string,
    input: { pan?: unknown; expiry?: unknown; cardholderName?: unknown },
    actor: AuditActor,
  ): Promise<{ card: CardView; created: boolean }> {
    let pan: string;
    let expiry: string;
    let cardholderName: string;
    try {
      pan = normalisePan(input.pan);
      expiry = normaliseExpiry(input.expiry);
      cardholderName = normaliseCardholderName(input.cardholderName);
    } catch (err) {
      if (err instanceof CardInputError) throw new ShopInputError(err.field, err.message);
      throw err;
    }
    // The same card saved twice is found through the keyed fingerprint, not by comparing PANs in SQL.
    const existing = await findByBlindIndex(this.cards, 'panFingerprint', pan, { customerId });
    if (existing[0] !== undefined) return { card: cardView(existing[0]), created: false };
    const card = this.cards.create({
      id: newId('card'),
      customerId,
      pan,
      expiry,
      cardholderName,
      brand: brandOf(pan),
    });
    await this.cards.save(card, { data: { actor } });
    return { card: cardView(card), created: true };
  }

  async listCards(customerId: string, endingIn?: string): Promise<CardView[]> {
    if (endingIn !== undefined && !/^\d{4}$/.test(endingIn))
      throw new ShopInputError('last4', 'last4 must be 4 digits');
    const cards =
      endingIn === undefined
        ? await this.cards.find({ where: { customerId }, order: { createdAt: 'ASC' } })
        : await findByBlindIndex(this.cards, 'panLast4Index', endingIn, { customerId });
    return cards.map(cardView);
  }

  async card(token: string): Promise<PaymentCard | null> {
    if (!/^card_[A-Za-z0-9_-]{16}$/.test(token)) return null;
    return this.cards.findOneBy({ id: token });
  }

  async deleteCard(card: PaymentCard, actor: AuditActor): Promise<void> {
    await this.cards.remove(card, { data: { actor } });
  }

  async placeOrder(
    customerId: string,
    input: { cardToken?: unknown; items?: unknown },
    actor: AuditActor,
  ): Promise<Order> {
    const card = typeof input.cardToken === 'string' ? await this.card(input.cardToken) : null;
    // Someone else's card token is "unknown" here: the caller learns nothing about it.
    if (card === null || card.customerId !== customerId)
      throw new ShopInputError('cardToken', 'unknown card token');
    if (!Array.isArray(input.items) || input.items.length === 0 || input.items.length > 20) {
      throw new ShopInputError('items', 'items must be a list of 1 to 20 { sku, quantity }');
    }
    const lines: OrderLine[] = input.items.map((item: unknown) => {
      const { sku, quantity } = (item ?? {}) as { sku?: unknown; quantity?: unknown };
      const product = catalogue.find((p) => p.sku === sku);
      if (product === undefined) throw new ShopInputError('items', 'unknown sku');
      if (!Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 99) {
        throw new ShopInputError('items', 'quantity must be an integer from 1 to 99');
      }
      return { sku: product.sku, quantity: quantity as number, unitPriceCents: product.priceCents };
    });
    const order = this.orders.create({
      id: newId('ord'),
      customerId,
      cardToken: card.id,
      lines,
      totalCents: lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0),
      status: 'paid',
    });
    await this.orders.save(order, { data: { actor } });
    return order;
  }

  async listOrders(customerId?: string): Promise<Order[]> {
    return this.orders.find({
      where: customerId === undefined ? {} : { customerId },
      order: { createdAt: 'ASC' },
    });
  }

  /** Only reached behind requireConsent('marketing'); records the consent version it relied on. */
  async sendMarketingEmail(customerId: string): Promise<MarketingEmail> {
    const status = await this.bulwark.consent!.check(customerId, marketingPurpose.id);
    const email = this.outbox.create({
      customerId,
      subject: 'This week: 10% off Bulwark mugs',
      consentVersion: status.version ?? marketingPurpose.version,
    });
    return this.outbox.save(email);
  }
}
