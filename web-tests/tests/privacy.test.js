// Browser tests of privacy: the DPO exports a number's traffic data for an authority's lawful
// request from the back office, downloads it and finds it among past exports (other staff get
// 403); a customer corrects their details in the privacy centre and closes the account. Every
// page visited must be valid HTML and log no console error. Screenshots go to artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer } from "../lib/server.js";
import { launch, context, visit, assertValidHtml, screenshot } from "../lib/browser.js";
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

/** Submits a form by clicking its button and checks the page it answers with. */
async function submit(page, selector, name) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  await assertValidHtml(await response.text(), name);
  return response;
}

/** A staff member with `role`, signed in in a fresh context. */
async function staffMember(role) {
  const ctx = await context(browser, server.base);
  ctx.allowStatus(403);
  const { page, email } = await newCustomer(server, ctx, role);
  server.cli("users", "set-role", "--email", email, "--role", role);
  return { ctx, page };
}

/** Today's date in Prague as YYYY-MM-DD. */
function today() {
  return new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Prague" }).format(new Date());
}

test("lawful request: the DPO exports, downloads and sees past exports; others get 403", async () => {
  // A customer sends a message to the number the authority asks about.
  const customer = await context(browser, server.base);
  const { page } = await newCustomer(server, customer, "odesilatel");
  await page.goto("/app/send");
  await page.fill("#to", "777 123 456");
  await page.fill("#text", "Dobrý den");
  await Promise.all([page.waitForNavigation(), page.click("button[name=action][value=send]")]);
  assert.match(new URL(page.url()).pathname, /^\/app\/messages\/\d+$/);

  // Support has no access to lawful requests.
  const support = await staffMember("support");
  await visit(support.page, "/admin/lawful-requests", null, 403);

  const dpo = await staffMember("dpo");
  const office = dpo.page;
  await visit(office, "/admin/lawful-requests", "70-lawful-requests");
  await office.locator("[data-empty=exports]").waitFor();

  // An incomplete form is refused with a message; then the export downloads as JSON.
  await office.fill("#number", "777 123 456");
  await office.fill("#from", today());
  await office.fill("#to", today());
  await office.fill("#reference", "   ");
  await office.locator("#reference").evaluate((el) => el.removeAttribute("required"));
  await submit(office, "form[action='/admin/lawful-requests'] button[type=submit]", "lawful-refused");
  await office.locator(".notice.error").waitFor();

  await office.fill("#number", "777 123 456");
  await office.fill("#from", today());
  await office.fill("#to", today());
  await office.fill("#reference", "KRPA-77/TČ-2026");
  const [download] = await Promise.all([
    office.waitForEvent("download"),
    office.click("form[action='/admin/lawful-requests'] button[type=submit]"),
  ]);
  assert.match(download.suggestedFilename(), /^provozni-udaje-KRPA-77-T.-2026\.json$/);
  const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
  assert.equal(exported.number, "+420777123456");
  assert.equal(exported.reference, "KRPA-77/TČ-2026");
  assert.equal(exported.data.messages_to.length, 1);
  assert.equal(exported.data.messages_to[0].to_number, "+420777123456");

  // The export is listed among past exports, from the audit log.
  await visit(office, "/admin/lawful-requests", "71-lawful-requests-past");
  const row = office.locator("tr[data-export]").first();
  await row.getByText("KRPA-77/TČ-2026").waitFor();
  assert.equal((await row.locator("td").nth(5).textContent()).trim(), "1");
  await screenshot(office, "71-lawful-requests-past");

  for (const c of [customer, support.ctx, dpo.ctx]) {
    assert.deepEqual(c.unexpected(), []);
    await c.close();
  }
});

test("privacy centre: the customer corrects their details and closes the account", async () => {
  const ctx = await context(browser, server.base);
  const { page } = await newCustomer(server, ctx, "zakaznik");
  await visit(page, "/app/privacy", "72-privacy-centre");
  assert.equal(await page.inputValue("#full_name"), "Jana Nováková");
  await page.fill("#full_name", "Jana Dvořáková");
  await page.fill("#billing_name", "Jana Dvořáková, OSVČ");
  await submit(page, "form[action='/app/privacy/details'] button[type=submit]", "details-saved");
  await page.locator(".notice.ok").waitFor();
  assert.equal(await page.inputValue("#full_name"), "Jana Dvořáková");
  assert.equal(await page.inputValue("#billing_name"), "Jana Dvořáková, OSVČ");

  // Closing needs the box ticked; then the contract's end is shown.
  await page.check("#confirm");
  await submit(page, "form[action='/app/privacy/close'] button[type=submit]", "account-closed");
  await page.locator("[data-contract-ended]").waitFor();
  assert.equal(await page.locator("form[action='/app/privacy/close']").count(), 0);
  await screenshot(page, "73-account-closed");
  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});
