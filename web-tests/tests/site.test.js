// Browser tests of the web against the real binary: the cookie banner and the cookie jar,
// registration (under 18 refused), e-mail verification, sign-in and lockout, sending a message
// until it is delivered, API keys, the privacy page's withdrawal, the back office; every page
// visited must be valid HTML and log no console error. Screenshots go to artifacts/.
import { test, before, after } from "node:test";
import { createHmac } from "node:crypto";
import assert from "node:assert/strict";
import { startServer } from "../lib/server.js";
import { launch, context, visit, screenshot } from "../lib/browser.js";
import { register, signIn, verifyLatest } from "../lib/account.js";

/** The cookies the site may set without consent: the necessary ones of its cookie list. */
const NECESSARY = new Set(["csrf", "consent", "sid"]);

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function isoDate(d) {
  return d.toISOString().slice(0, 10);
}

function yearsAgo(years) {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return d;
}

test("first visit: the banner shows and only necessary cookies are set", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  await visit(page, "/", "01-home-banner");
  await page.locator(".cookie-banner").waitFor();
  const jar = await ctx.cookies();
  const names = jar.map((c) => c.name);
  assert.ok(names.includes("csrf"), `the CSRF cookie is set: ${names}`);
  for (const c of jar) {
    assert.ok(NECESSARY.has(c.name), `only necessary cookies before consent, found ${c.name}`);
    assert.equal(c.httpOnly, true, `${c.name} is HttpOnly`);
    assert.equal(c.sameSite, "Lax", `${c.name} is SameSite=Lax`);
  }
  // The English site sets no preference cookie without consent either.
  await visit(page, "/en/", null);
  assert.deepEqual((await ctx.cookies()).map((c) => c.name).filter((n) => !NECESSARY.has(n)), []);

  // Reject all: still nothing beyond the necessary ones, and the banner is gone.
  await Promise.all([page.waitForNavigation(), page.click(".cookie-banner button[value=none]")]);
  assert.equal(await page.locator(".cookie-banner").count(), 0);
  await visit(page, "/", null);
  assert.deepEqual((await ctx.cookies()).map((c) => c.name).filter((n) => !NECESSARY.has(n)), []);
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("accept all: the choice is recorded, preference cookies follow, and it can be changed", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  await visit(page, "/en/", null);
  await Promise.all([page.waitForNavigation(), page.click(".cookie-banner button[value=all]")]);
  assert.equal(await page.locator(".cookie-banner").count(), 0);
  const consent = (await ctx.cookies()).find((c) => c.name === "consent");
  assert.match(consent.value, /^v1\.[0-9a-f]{16}\.1111$/);
  await visit(page, "/en/prices/", null);
  const lang = (await ctx.cookies()).find((c) => c.name === "lang");
  assert.equal(lang?.value, "en", "the language is remembered with consent to preferences");

  // The records are listed on the privacy page; choose: only statistics.
  await visit(page, "/en/privacy/", "02-privacy-after-accept");
  assert.equal(await page.locator("button", { hasText: "Withdraw" }).count() >= 4, true);
  await visit(page, "/en/cookies/", "03-cookie-settings");
  await page.getByRole("cell", { name: "consent", exact: true }).waitFor();
  await page.uncheck("#settings-preferences");
  await page.uncheck("#settings-marketing");
  await page.uncheck("#settings-unclassified");
  await Promise.all([page.waitForNavigation(), page.click("form.stack button[value=custom]")]);
  const after = await ctx.cookies();
  assert.match(after.find((c) => c.name === "consent").value, /\.0100$/);
  assert.equal(after.find((c) => c.name === "lang"), undefined, "the preference cookie goes with its consent");
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("every public page is valid HTML without console errors", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  const pages = [
    ["/", "cs-home"], ["/jak-to-funguje/", "cs-how"], ["/cenik/", "cs-prices"],
    ["/dokumentace-api/", "cs-api-docs"], ["/zasady-ochrany-soukromi/", "cs-privacy-policy"],
    ["/cookies/", "cs-cookies"], ["/osobni-udaje/", "cs-personal-data"], ["/kontakt/", "cs-contact"],
    ["/en/", "en-home"], ["/en/how-it-works/", "en-how"], ["/en/prices/", "en-prices"],
    ["/en/api-docs/", "en-api-docs"], ["/en/privacy-policy/", "en-privacy-policy"],
    ["/en/cookies/", "en-cookies"], ["/en/privacy/", "en-privacy"], ["/en/contact/", "en-contact"],
    ["/app/register", "register"], ["/app/login", "login"], ["/app/reset", "reset"],
  ];
  for (const [p, shot] of pages) {
    await visit(page, p, `10-${shot}`);
  }
  // The policy carries the seed's clauses, the cookie clause among them.
  await visit(page, "/zasady-ochrany-soukromi/", null);
  await page.locator("#cl-9", { hasText: "Prohlášení o cookies" }).waitFor();
  await page.locator("#cl-7-1").waitFor();
  await visit(page, "/en/privacy-policy/", null);
  await page.locator("#cl-9", { hasText: "Cookie statement" }).waitFor();
  // The API documentation is the OpenAPI document rendered.
  await visit(page, "/en/api-docs/", null);
  await page.locator("#op-post--v1-messages").waitFor();
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("registration: under 18 refused; adults register, verify, sign in, send, see it delivered", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  const email = `jana.${Date.now()}@example.cz`;
  ctx.allowStatus(401, 403, 422);

  const young = await register(page, { email, birth: isoDate(yearsAgo(17)) });
  assert.equal(young.status(), 422);
  await page.getByText("Služby ApiSendSMS jsou určeny jen osobám starším 18 let.").waitFor();
  await screenshot(page, "20-register-under-18");
  assert.equal(server.links().length, 0, "nothing was created for the minor");

  const adult = await register(page, { email, birth: isoDate(yearsAgo(30)), marketing: true });
  assert.equal(adult.status(), 200);
  await page.getByText("Ověřte svůj e-mail").waitFor();

  // Unverified: refused.
  const early = await signIn(page, email);
  assert.equal(early.status(), 403);
  await verifyLatest(server, page);

  const wrong = await signIn(page, email, "not the password");
  assert.equal(wrong.status(), 401);
  const ok = await signIn(page, email);
  assert.equal(ok.status(), 200);
  assert.equal(new URL(page.url()).pathname, "/app/");
  const sid = (await ctx.cookies()).find((c) => c.name === "sid");
  assert.ok(sid?.httpOnly, "the session cookie is HttpOnly");
  await visit(page, "/app/", "21-dashboard-empty");
  await page.locator("[data-figure=credit]", { hasText: "50.00" }).waitFor();

  // Send: the live preview follows the text (the page script), then the message is delivered.
  await visit(page, "/app/send", null);
  await page.fill("#to", "+420 777 123 456");
  await page.fill("#text", "Příliš žluťoučký kůň");
  await page.locator("#live-preview", { hasText: "UCS-2" }).waitFor();
  await page.check("#allow_transliteration");
  await page.locator("#live-preview", { hasText: "GSM-7" }).waitFor();
  await screenshot(page, "22-send-preview");
  await Promise.all([page.waitForNavigation(), page.click("button[value=send]")]);
  assert.match(new URL(page.url()).pathname, /^\/app\/messages\/\d+$/);
  const messagePath = new URL(page.url()).pathname;
  let status = "";
  for (let i = 0; i < 50 && status !== "delivered"; i++) {
    await visit(page, messagePath, null);
    status = await page.locator("#message-status [data-status]").getAttribute("data-status");
    if (status !== "delivered") { await new Promise((r) => setTimeout(r, 200)); }
  }
  assert.equal(status, "delivered");
  await page.getByText("Prilis zlutoucky kun").first().waitFor();
  await screenshot(page, "23-message-delivered");
  await visit(page, "/app/messages?status=delivered", "24-messages");
  assert.equal(await page.locator("tbody tr").count(), 1);
  await visit(page, "/app/", "25-dashboard");
  await page.locator("[data-figure=today]", { hasText: "1" }).waitFor();
  assert.equal(await page.locator("svg.chart rect").count(), 30);
  assert.equal(await page.locator("svg.chart rect[height='150']").count(), 1, "today's bar is the tallest");

  // Without JavaScript the Preview button shows the same figures.
  const noJs = await browser.newContext({ baseURL: server.base, javaScriptEnabled: false });
  await noJs.addCookies((await ctx.cookies()).map((c) => ({ ...c })));
  const plain = await noJs.newPage();
  await plain.goto("/app/send");
  await plain.fill("#to", "777123456");
  await plain.fill("#text", "Ahoj");
  await Promise.all([plain.waitForNavigation(), plain.click("button[value=preview]")]);
  await plain.locator("#live-preview", { hasText: "GSM-7" }).waitFor();
  await noJs.close();

  // API keys: shown once, they work, they can be revoked.
  await visit(page, "/app/keys", null);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/keys'] button")]);
  const key = (await page.locator("#new-api-key").textContent()).trim();
  assert.match(key, /^ask_/);
  await screenshot(page, "26-api-key-created");
  const balance = await ctx.request.get("/v1/balance", { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(balance.status(), 200);
  await visit(page, "/app/keys", null);
  assert.equal(await page.locator("#new-api-key").count(), 0, "the key is shown only once");
  assert.equal(await page.content().then((h) => h.includes(key)), false);
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/revoke'] button")]);
  await page.getByText(/zneplatněn|revoked/).first().waitFor();

  for (const p of ["/app/inbound", "/app/security", "/app/messages", "/en/privacy/"]) {
    await visit(page, p, `27${p.replaceAll("/", "-")}`);
  }

  // The privacy page: the marketing consent from the registration, withdrawn in one click.
  await visit(page, "/osobni-udaje/", "28-privacy-before");
  const row = page.locator("tr", { hasText: "Obchodní sdělení" }).filter({ hasText: "udělen" });
  await row.waitFor();
  await Promise.all([page.waitForNavigation(), row.locator("button", { hasText: "Odvolat" }).click()]);
  await page.getByText("Souhlas byl odvolán").waitFor();
  await screenshot(page, "29-privacy-withdrawn");
  const live = page.locator("tr", { hasText: "Obchodní sdělení" });
  assert.equal(await live.filter({ hasText: "udělen" }).locator("button").count(), 0);
  await visit(page, "/osobni-udaje/", null);

  // Sign out ends the session.
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/logout'] button")]);
  const again = await page.goto("/app/");
  assert.equal(new URL(again.url()).pathname, "/app/login");
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("sign-in is locked after repeated failures, even with the right password", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  const email = `petr.${Date.now()}@example.cz`;
  ctx.allowStatus(401, 429);
  await register(page, { email, birth: "1980-05-05" });
  await verifyLatest(server, page);
  for (let i = 0; i < 5; i++) {
    const r = await signIn(page, email, `wrong password ${i}`);
    assert.ok([401, 429].includes(r.status()), `attempt ${i}: ${r.status()}`);
  }
  const locked = await signIn(page, email);
  assert.equal(locked.status(), 429);
  await page.getByText(/dočasně zablokován/).waitFor();
  await screenshot(page, "30-locked");
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("a form without the CSRF token is refused", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  await page.goto("/");
  const r = await ctx.request.post("/cookies/consent", { form: { csrf: "x".repeat(64), choice: "all" } });
  assert.equal(r.status(), 403);
  await ctx.close();
});

test("back office: staff only, and staff views are audited", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  const email = `staff.${Date.now()}@example.cz`;
  ctx.allowStatus(403);
  await register(page, { email, birth: "1985-01-01" });
  await verifyLatest(server, page);
  await signIn(page, email);
  const denied = await page.goto("/admin/");
  assert.equal(denied.status(), 403);
  server.cli("users", "set-role", "--email", email, "--role", "support");
  await visit(page, "/admin/?q=example.cz", "40-admin-customers");
  // Ending a customer's contract takes a reason; the row then offers to renew it.
  const former = `former.${Date.now()}@example.cz`;
  const created = JSON.parse(server.cli("accounts", "create", "--email", former, "--name", "Bývalý zákazník"));
  await visit(page, `/admin/?q=${encodeURIComponent(former)}`, null);
  const row = page.getByRole("row", { name: new RegExp(former.replace(/[.]/g, "\\.")) });
  await row.locator("[data-contract=running]").waitFor();
  await row.getByRole("textbox", { name: "Důvod ukončení" }).fill("výpověď zákazníka");
  await Promise.all([page.waitForNavigation(), row.getByRole("button", { name: "Ukončit smlouvu" }).click()]);
  await page.locator(".notice", { hasText: "Smlouva je ukončena" }).waitFor();
  await visit(page, `/admin/?q=${encodeURIComponent(former)}`, "44-admin-contract-ended");
  await page.getByRole("row", { name: new RegExp(former.replace(/[.]/g, "\\.")) }).locator("[data-contract=ended]").waitFor();
  await page.locator(`form[action='/admin/customers/${created.account_id}/reopen']`).waitFor();
  await visit(page, "/admin/messages?to=%2B420777123456", "41-admin-messages");
  assert.ok(await page.locator("tbody tr").count() >= 1);
  await visit(page, "/admin/connectors", "42-admin-connectors");
  await page.getByRole("cell", { name: "sim", exact: true }).waitFor();
  // Support's role does not carry the audit log; the DPO's does.
  await visit(page, "/admin/audit", null, 403);
  server.cli("users", "set-role", "--email", email, "--role", "dpo");
  await visit(page, "/admin/connectors", null, 403);
  await visit(page, "/admin/audit", "43-admin-audit");
  await page.getByRole("cell", { name: "staff.search_messages" }).first().waitFor();
  // The audit log names the number by its keyed hash, never in clear.
  await page.getByRole("cell", { name: /^number:[0-9a-f]{64}$/ }).first().waitFor();
  assert.equal(await page.getByRole("cell", { name: "+420777123456" }).count(), 0);
  await page.getByText("The hash chain is intact", { exact: false }).or(page.getByText("Řetězec otisků je neporušený", { exact: false })).waitFor();
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("privacy centre, tickets and the DPO's back office", async () => {
  const ctx = await context(browser, server.base);
  const page = await ctx.newPage();
  const email = `privacy.${Date.now()}@example.cz`;
  ctx.allowStatus(403);
  await register(page, { email, birth: "1990-05-01" });
  await verifyLatest(server, page);
  await signIn(page, email);
  await visit(page, "/app/privacy", "50-app-privacy");
  // Give, then withdraw, consent to commercial SMS: one click each, recorded at once.
  const smsRow = page.getByRole("row", { name: /SMS/ });
  await Promise.all([page.waitForNavigation(), smsRow.getByRole("button").click()]);
  await smsRow.getByRole("cell", { name: "udělen", exact: true }).waitFor();
  await Promise.all([page.waitForNavigation(), smsRow.getByRole("button").click()]);
  await smsRow.getByRole("cell", { name: "neudělen", exact: true }).waitFor();
  // An access request, filed signed in, is verified by the session: the archive downloads.
  await page.selectOption("#kind", "access");
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/privacy/requests'] button[type=submit]")]);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: /ZIP/ }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^osobni-udaje-\d+\.zip$/);
  // An erasure request waits for the DPO.
  await page.selectOption("#kind", "erasure");
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/privacy/requests'] button[type=submit]")]);
  // A ticket and its conversation.
  await visit(page, "/app/tickets", "51-app-tickets");
  await page.fill("#subject", "Dotaz k vyúčtování");
  await page.fill("#body", "Dobrý den, jak funguje kredit?");
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/tickets'] button[type=submit]")]);
  await page.getByText("Dobrý den, jak funguje kredit?").waitFor();
  assert.equal((await page.goto("/admin/dsr")).status(), 403);
  server.cli("users", "set-role", "--email", email, "--role", "dpo");
  await visit(page, "/admin/dsr", "52-admin-dsr");
  await page.getByRole("cell", { name: "Výmaz", exact: true }).waitFor();
  // Staff take a request for anyone; an identity checked in person is recorded as such.
  await page.fill("#email", email);
  await page.selectOption("#kind", "rectification");
  await page.fill("#verified", "občanský průkaz na pobočce");
  await Promise.all([page.waitForNavigation(), page.click("form[action='/admin/dsr'] button[type=submit]")]);
  await page.getByRole("cell", { name: "Oprava", exact: true }).waitFor();
  await page.getByRole("cell", { name: "staff: občanský průkaz na pobočce" }).waitFor();
  await visit(page, "/admin/retention", "53-admin-retention");
  await visit(page, "/admin/processing", "54-admin-processing");
  await page.getByText("standardních smluvních doložek", { exact: false }).first().waitFor();
  await visit(page, "/admin/tickets", "55-admin-tickets");
  await page.getByRole("cell", { name: "Dotaz k vyúčtování" }).waitFor();
  await visit(page, "/admin/audit", "56-admin-audit");
  await page.getByRole("cell", { name: "dsr.file" }).first().waitFor();
  // The DPO carries out the erasure (here of their own account): the sessions end with it.
  await page.goto("/admin/dsr");
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Provést výmaz" }).click()]);
  assert.match(page.url(), /\/app\/login/);
  await page.goto("/app/");
  assert.match(page.url(), /\/app\/login/);
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("over TLS every cookie is Secure, HttpOnly and SameSite=Lax", async () => {
  const tls = await startServer(["--tls-self-signed"]);
  try {
    assert.match(tls.base, /^https:/);
    const ctx = await browser.newContext({ baseURL: tls.base, ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await visit(page, "/", "50-https-home");
    await Promise.all([page.waitForNavigation(), page.click(".cookie-banner button[value=all]")]);
    const jar = await ctx.cookies();
    assert.deepEqual(jar.map((c) => c.name).sort(), ["consent", "csrf", "lang"]);
    for (const c of jar) {
      assert.equal(c.secure, true, `${c.name} is Secure`);
      assert.equal(c.httpOnly, true, `${c.name} is HttpOnly`);
      assert.equal(c.sameSite, "Lax", `${c.name} is SameSite=Lax`);
    }
    await ctx.close();
  } finally {
    await tls.stop();
  }
});

/** The current TOTP code of a base32 secret (RFC 6238: SHA-1, 6 digits, 30 s). */
function totp(secret) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "")) {
    bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  }
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = createHmac("sha1", bytes).update(counter).digest();
  const o = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(o) & 0x7fffffff) % 1000000;
  return n.toString().padStart(6, "0");
}

test("password reset by e-mail link, then TOTP as a second step", async () => {
  const ctx = await context(browser, server.base);
  ctx.allowStatus(401);
  const page = await ctx.newPage();
  const email = `eva.${Date.now()}@example.cz`;
  await register(page, { email, birth: "1975-03-03" });
  await verifyLatest(server, page);

  await visit(page, "/app/reset", null);
  await page.fill("#email", email);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/reset'] button")]);
  await page.getByText(/poslali jsme na něj odkaz/).waitFor();
  const link = new URL(server.links().at(-1));
  assert.equal(link.pathname, "/app/reset/confirm");
  await visit(page, link.pathname + link.search, "60-reset-confirm");
  await page.fill("#password", "a brand new password");
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/reset/confirm'] button")]);
  await page.getByText(/Heslo je změněno/).waitFor();
  assert.equal((await signIn(page, email)).status(), 401, "the old password no longer works");
  assert.equal((await signIn(page, email, "a brand new password")).status(), 200);

  // Turn on TOTP: the secret is shown with a QR code, the first code confirms it.
  await visit(page, "/app/security", null);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/security'] button")]);
  const secret = (await page.locator("#totp-secret").textContent()).trim();
  await page.locator("img.qr").waitFor();
  await screenshot(page, "61-totp-setup");
  await page.fill("#code", totp(secret));
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/security'] button")]);
  await page.getByText("Dvoufázové ověření je zapnuto.").waitFor();
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/logout'] button")]);

  // Signing in now asks for the code; the app stays closed until it is given.
  await signIn(page, email, "a brand new password");
  assert.equal(new URL(page.url()).pathname, "/app/login/totp");
  const closed = await page.goto("/app/");
  assert.equal(new URL(closed.url()).pathname, "/app/login");
  await visit(page, "/app/login/totp", "62-totp-step");
  await page.fill("#code", totp(secret));
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/login/totp'] button")]);
  assert.equal(new URL(page.url()).pathname, "/app/");
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});
