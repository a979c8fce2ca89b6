import type { Product } from './shop-policy';

/**
 * Minimal server-rendered pages. No inline script or style: the Content-Security-Policy set by
 * Bulwark's securityHeaders forbids them. Every form that changes state carries the CSRF token
 * in a hidden `_csrf` field; the browser sends the matching cookie by itself.
 */

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** HTML-escapes text and attribute values (everything rendered below goes through it). */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const money = (cents: number) => `€${(cents / 100).toFixed(2)}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)} · Bulwark shop</title></head>
<body>
<header><a href="/">Bulwark shop</a> · <a href="/account">Account</a></header>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
<footer><small>Demo app: cardholder data encrypted with Bulwark. Use test card numbers only.</small></footer>
</body>
</html>
`;
}

export function homePage(products: readonly Product[]): string {
  const items = products
    .map((p) => `<li>${esc(p.name)} (${esc(p.sku)}) ${money(p.priceCents)}</li>`)
    .join('\n');
  return layout(
    'Welcome',
    `<ul>\n${items}\n</ul>\n<p><a href="/login">Log in</a> to save a card and order.</p>`,
  );
}

export function loginPage(csrfToken: string, error?: string): string {
  return layout(
    'Log in',
    `${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="_csrf" value="${esc(csrfToken)}">
  <label>E-mail <input name="email" type="email" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Log in</button>
</form>`,
  );
}

export interface AccountView {
  name: string;
  email: string;
  cards: readonly { token: string; brand: string; masked: string; expiry: string }[];
  marketing: { granted: boolean; text: string; version: number };
  products: readonly Product[];
  csrfToken: string;
  message?: string;
}

export function accountPage(v: AccountView): string {
  const hidden = `<input type="hidden" name="_csrf" value="${esc(v.csrfToken)}">`;
  const cards =
    v.cards.length === 0
      ? '<p>No saved card.</p>'
      : `<ul>\n${v.cards
          .map(
            (c) =>
              `<li>${esc(c.brand)} ${esc(c.masked)} (expires ${esc(c.expiry)}) token <code>${esc(c.token)}</code></li>`,
          )
          .join('\n')}\n</ul>`;
  const cardOptions = v.cards
    .map((c) => `<option value="${esc(c.token)}">${esc(c.brand)} ${esc(c.masked)}</option>`)
    .join('');
  const productOptions = v.products
    .map((p) => `<option value="${esc(p.sku)}">${esc(p.name)} ${money(p.priceCents)}</option>`)
    .join('');
  return layout(
    `Hello ${v.name}`,
    `${v.message ? `<p role="status">${esc(v.message)}</p>` : ''}
<p>Signed in as ${esc(v.email)}.</p>
<h2>Saved cards</h2>
${cards}
<form method="post" action="/account/cards">
  ${hidden}
  <label>Card number <input name="pan" inputmode="numeric" autocomplete="cc-number" required></label>
  <label>Expiry (MM/YY) <input name="expiry" autocomplete="cc-exp" required></label>
  <label>Name on card <input name="cardholderName" autocomplete="cc-name" required></label>
  <button type="submit">Save card</button>
</form>
<h2>Order</h2>
<form method="post" action="/account/orders">
  ${hidden}
  <select name="sku">${productOptions}</select>
  <select name="cardToken">${cardOptions}</select>
  <button type="submit"${v.cards.length === 0 ? ' disabled' : ''}>Buy</button>
</form>
<h2>Marketing e-mails</h2>
<p>${esc(v.marketing.text)} (text version ${esc(v.marketing.version)})</p>
<p>Status: ${v.marketing.granted ? 'subscribed' : 'not subscribed'}</p>
<form method="post" action="/account/marketing">
  ${hidden}
  <input type="hidden" name="choice" value="${v.marketing.granted ? 'withdraw' : 'grant'}">
  <button type="submit">${v.marketing.granted ? 'Unsubscribe' : 'Subscribe'}</button>
</form>
<form method="post" action="/logout">
  ${hidden}
  <button type="submit">Log out</button>
</form>`,
  );
}
