// Browser tests of the app's recipients and integrations pages against the real binary:
// contact lists with a CSV upload (with and without JavaScript) and its report, sending to a
// list with {name} fields, the Blacklist (a blocked number refused at upload and at sending),
// commercial-message rules, SMPP credentials and webhooks shown once, and the back office's
// handling of a recipient's request (restriction, erasure).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../lib/server.js";
import { launch, context, visit, screenshot } from "../lib/browser.js";
import { newCustomer } from "../lib/account.js";

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

const CSV = [
  "number,name,city",
  "+420 777 000 222,Jana,Praha",
  "777000333,Petr,Brno",
  "not a number,Bad,Plzeň",
  "+420777000111,Blocked,Ostrava",
  "777 000 222,Twice,Praha",
  "",
].join("\n");

async function submit(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response;
}

test("contacts: upload with progress and a report, send to a list, the Blacklist holds", async () => {
  const ctx = await context(browser, server.base);
  ctx.allowStatus(409, 422);
  const { page } = await newCustomer(server, ctx, "contacts");

  // A number on the account's Blacklist first.
  await visit(page, "/app/blacklist", "70-blacklist-empty");
  await page.fill("#bl-number", "777 000 111");
  await submit(page, "form[action='/app/blacklist'] button");
  await page.locator("#blacklist td", { hasText: "+420777000111" }).waitFor();
  // A number nobody can parse is refused with the reason.
  await page.fill("#bl-number", "12ab");
  const refused = await submit(page, "form[action='/app/blacklist'] button");
  assert.equal(refused.status(), 422);
  await page.locator(".notice.error").waitFor();

  // A list and its upload (the page script sends it with a progress bar).
  await visit(page, "/app/contacts", "71-contacts");
  await page.fill("#list-name", "Klienti");
  await submit(page, "form[action='/app/contacts'] button");
  const listPath = new URL(page.url()).pathname;
  assert.match(listPath, /^\/app\/contacts\/\d+$/);
  await visit(page, listPath, null);
  await page.selectOption("#basis", "consent");
  await page.setInputFiles("#file", { name: "klienti.csv", mimeType: "text/csv", buffer: Buffer.from(CSV) });
  await submit(page, "form[data-upload] button");
  assert.match(new URL(page.url()).pathname, /^\/app\/contacts\/\d+\/imports\/\d+$/);
  await page.locator("#import-added", { hasText: "2" }).waitFor();
  assert.equal((await page.locator("#import-refused").textContent()).trim(), "1", "the bad number");
  assert.equal((await page.locator("#import-blocked").textContent()).trim(), "1");
  await page.locator("#rejects td", { hasText: "not a number" }).waitFor();
  await screenshot(page, "72-import-report");
  await visit(page, listPath, "73-contact-list");
  assert.equal(await page.locator("tbody tr", { hasText: "+420777000222" }).count(), 1);
  assert.equal(await page.locator("tbody tr", { hasText: "+420777000111" }).count(), 0, "the blocked number was not imported");

  // The same upload works without JavaScript: a plain multipart form.
  const noJs = await browser.newContext({ baseURL: server.base, javaScriptEnabled: false });
  await noJs.addCookies(await ctx.cookies());
  const plain = await noJs.newPage();
  await plain.goto(listPath);
  await plain.setInputFiles("#file", { name: "more.csv", mimeType: "text/csv", buffer: Buffer.from("telefon,jméno\n777000444,Eva\n") });
  await Promise.all([plain.waitForNavigation(), plain.click("form[data-upload] button")]);
  await plain.locator("#import-added", { hasText: "1" }).waitFor();
  await noJs.close();

  // A send to the list fills in each contact's name.
  const listId = listPath.split("/").pop();
  await visit(page, `/app/send?list=${listId}`, null);
  assert.equal(await page.locator("#list").inputValue(), listId);
  await page.fill("#text", "Dobrý den, {name}!");
  await page.locator("#live-preview", { hasText: "(3 " }).waitFor();
  await submit(page, "button[value=send]");
  assert.equal(new URL(page.url()).pathname, "/app/messages");
  await page.getByText("Dobrý den, Jana!").first().waitFor();
  await page.getByText("Dobrý den, Eva!").first().waitFor();

  // A commercial message needs its marks; the account's texts can be added by the form.
  await visit(page, "/app/send", null);
  await page.fill("#to", "777000333");
  await page.fill("#text", "Sleva 20 % tento týden");
  await page.check("#marketing");
  const missing = await submit(page, "button[value=send]");
  assert.equal(missing.status(), 422);
  await page.locator(".notice.error").waitFor();
  await visit(page, "/app/blacklist", null);
  await page.fill("#identification", "Firma s.r.o., IČO 12345678");
  await page.fill("#optout_line", "Odhlášení: SMS STOP na 9000");
  await submit(page, "form[action='/app/marketing'] button");
  await visit(page, "/app/send", null);
  await page.fill("#to", "777000999");
  await page.fill("#text", "Sleva 20 % tento týden");
  await page.check("#marketing");
  await page.check("#append_marketing");
  await submit(page, "button[value=send]");
  assert.match(new URL(page.url()).pathname, /^\/app\/messages\/\d+$/);
  // No recorded basis for a typed number: the commercial message is blocked, not sent.
  await page.locator("#message-status [data-status=blocked]").waitFor();
  await page.getByText("OS: Sleva 20 % tento týden").first().waitFor();

  // The Blacklist blocks sending too; an entry the customer made can be removed.
  await visit(page, "/app/send", null);
  await page.fill("#to", "+420777000111");
  await page.fill("#text", "Ahoj");
  await submit(page, "button[value=send]");
  await page.locator("#message-status [data-status=blocked]").waitFor();
  await visit(page, "/app/blacklist", "74-blacklist");
  await submit(page, "#blacklist form[action='/app/blacklist/remove'] button");
  assert.equal(await page.locator("#blacklist td", { hasText: "+420777000111" }).count(), 0);
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("SMPP credentials and webhooks: secrets shown once, revocable, deliveries listed", async () => {
  const ctx = await context(browser, server.base);
  ctx.allowStatus(422);
  const { page } = await newCustomer(server, ctx, "integrations");

  await visit(page, "/app/smpp", "75-smpp");
  await submit(page, "form[action='/app/smpp'] button");
  const systemId = (await page.locator("#new-system-id").textContent()).trim();
  const password = (await page.locator("#new-smpp-password").textContent()).trim();
  assert.match(systemId, /^as/);
  assert.ok(password.length >= 8);
  await screenshot(page, "76-smpp-created");
  await visit(page, "/app/smpp", null);
  assert.equal((await page.content()).includes(password), false, "the password is shown only once");
  await page.getByRole("cell", { name: systemId }).waitFor();
  await submit(page, "form[action$='/revoke'] button");
  await page.getByText(/zneplatněn/).first().waitFor();

  await visit(page, "/app/webhooks", "77-webhooks");
  await page.fill("#wh-url", "ftp://example.cz/hook");
  const bad = await submit(page, "form[action='/app/webhooks'] button");
  assert.equal(bad.status(), 422);
  await page.locator(".notice.error", { hasText: "http" }).waitFor();
  await page.fill("#wh-url", "http://127.0.0.1:9/hook");
  await page.uncheck("#ev-inbound");
  await submit(page, "form[action='/app/webhooks'] button");
  const secret = (await page.locator("#new-webhook-secret").textContent()).trim();
  assert.match(secret, /^whsec_/);
  await page.getByRole("cell", { name: "message.status", exact: true }).waitFor();

  // A message makes a delivery (to a port where nobody listens: its failed attempts show).
  await visit(page, "/app/send", null);
  await page.fill("#to", "777000555");
  await page.fill("#text", "Ahoj");
  await submit(page, "button[value=send]");
  await visit(page, "/app/webhooks", null);
  const hookPath = await page.locator("tbody a").first().getAttribute("href");
  let rows = 0;
  for (let i = 0; i < 60 && rows === 0; i++) {
    await visit(page, hookPath, null);
    rows = await page.locator("#deliveries tbody li").count();
    if (rows === 0) { await new Promise((r) => setTimeout(r, 250)); }
  }
  assert.ok(rows > 0, "an attempt of the delivery is listed");
  await screenshot(page, "78-webhook-deliveries");
  await submit(page, "form[action$='/delete'] button");
  assert.equal(await page.locator("tbody a").count(), 0);
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});

test("back office: a recipient's restriction and erasure, and the block that stays", async () => {
  const ctx = await context(browser, server.base);
  const { page, email } = await newCustomer(server, ctx, "dpo");
  server.cli("users", "set-role", "--email", email, "--role", "dpo");
  // A message to the number first, so that erasure has something to erase.
  await visit(page, "/app/send", null);
  await page.fill("#to", "777000888");
  await page.fill("#text", "Vaše objednávka je připravena");
  await submit(page, "button[value=send]");
  const messagePath = new URL(page.url()).pathname;

  await visit(page, "/admin/recipients?number=777000888", "79-admin-recipient");
  await page.check("#act-restrict");
  await submit(page, "form[method=post][action='/admin/recipients'] button");
  await page.locator("#recipient-entries li", { hasText: "omezení zpracování" }).waitFor();
  await page.check("#act-erase");
  await submit(page, "form[method=post][action='/admin/recipients'] button");
  await page.locator(".notice.ok", { hasText: "Vymazáno" }).waitFor();
  await screenshot(page, "80-admin-erased");
  assert.equal((await page.content()).includes("777000888"), false, "the erased number is not shown");

  await visit(page, messagePath, null);
  assert.equal((await page.content()).includes("objednávka"), false, "the message text is gone");
  // A new send to the erased number is blocked.
  await visit(page, "/app/send", null);
  await page.fill("#to", "+420777000888");
  await page.fill("#text", "Znovu");
  await submit(page, "button[value=send]");
  await page.locator("#message-status [data-status=blocked]").waitFor();
  await visit(page, "/admin/audit", null);
  await page.getByRole("cell", { name: "recipient.erase" }).waitFor();
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});
