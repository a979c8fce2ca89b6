import { definePolicy } from '@bulwark/core';

/**
 * Who may do what. Deny overrides allow and anything not allowed is denied.
 * - customers manage their own cards (ownership is an ABAC condition on the loaded card) and
 *   place their own orders;
 * - staff see every order and verify the audit chain, but never cardholder data: PCI DSS v4.0
 *   7.2 (access by need to know), enforced as an explicit deny so no later allow can widen it.
 */
export const shopPolicy = definePolicy({
  version: 1,
  roles: {
    customer: { description: 'A shopper' },
    staff: { description: 'Shop staff: orders and audit, no cardholder data' },
  },
  policies: [
    {
      id: 'shop',
      rules: [
        {
          id: 'profile',
          effect: 'allow',
          roles: ['customer', 'staff'],
          actions: ['profile:read'],
          resources: ['profile'],
        },
        {
          id: 'cards-collection',
          effect: 'allow',
          roles: ['customer'],
          actions: ['card:create', 'card:list'],
          resources: ['cards'],
        },
        {
          id: 'own-card',
          effect: 'allow',
          roles: ['customer'],
          actions: ['card:read', 'card:delete'],
          resources: ['cards/*'],
          when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
        },
        {
          id: 'own-orders',
          effect: 'allow',
          roles: ['customer'],
          actions: ['order:create', 'order:list'],
          resources: ['orders'],
        },
        {
          id: 'marketing-self',
          effect: 'allow',
          roles: ['customer'],
          actions: ['marketing:send'],
          resources: ['marketing'],
        },
        {
          id: 'staff-orders',
          effect: 'allow',
          roles: ['staff'],
          actions: ['order:list-all'],
          resources: ['orders'],
        },
        {
          id: 'staff-audit',
          effect: 'allow',
          roles: ['staff'],
          actions: ['audit:verify'],
          resources: ['audit'],
        },
        {
          id: 'staff-no-cardholder-data',
          effect: 'deny',
          roles: ['staff'],
          actions: ['card:*'],
          resources: ['cards', 'cards/*'],
          reasonId: 'cardholder_data_need_to_know',
        },
      ],
    },
  ],
});

export interface Product {
  sku: string;
  name: string;
  priceCents: number;
}

export const catalogue: readonly Product[] = [
  { sku: 'mug', name: 'Bulwark mug', priceCents: 1200 },
  { sku: 'tee', name: 'Bulwark T-shirt', priceCents: 2500 },
  { sku: 'stickers', name: 'Sticker pack', priceCents: 400 },
];

export const marketingPurpose = {
  id: 'marketing',
  name: 'Offers by e-mail',
  description: 'Occasional e-mails about new products and discounts.',
  version: 1,
  text: 'I agree that the shop may e-mail me offers. I can withdraw this at any time from my account page.',
  marketing: true,
};
