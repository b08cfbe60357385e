// Browser tests of credit and payments: a customer asks for a top-up and sees the payment
// details with the QR Platba image, sets the low-credit threshold; staff upload a bank
// statement and read the import report, pair the unpaired payment by hand (logged), make the
// account postpaid; the customer then finds the invoices and downloads a PDF. Every page
// visited must be valid HTML and log no console error. Screenshots go to artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../lib/server.js";
import { launch, context, visit, assertValidHtml, screenshot } from "../lib/browser.js";

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

const PASSWORD = "correct horse battery";

async function registerAndSignIn(page, email, name) {
  await page.goto("/app/register");
  await page.fill("#full_name", name);
  await page.fill("#address", "Světova 523/1, Praha 8");
  await page.fill("#email", email);
  await page.fill("#birth_date", "1980-05-05");
  await page.fill("#password", PASSWORD);
  await page.check("#terms");
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/register'] button[type=submit]")]);
  const links = server.links();
  const url = new URL(links[links.length - 1]);
  await page.goto(url.pathname + url.search);
  await page.getByText(/E-mail je ověřen|e-mail is verified/).waitFor();
  await page.goto("/app/login");
  await page.fill("#email", email);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/app/login'] button[type=submit]")]);
}

/** Submits a form by clicking its button and checks the page it answers with. */
async function submit(page, selector, name) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  await assertValidHtml(await response.text(), name);
  return response;
}

/** A Fio JSON statement of (id, amount, variable symbol) credits. */
function fioStatement(payments) {
  return JSON.stringify({
    accountStatement: {
      info: { iban: "CZ7920100000002000000000", currency: "CZK" },
      transactionList: {
        transaction: payments.map(([id, amount, vs]) => ({
          column22: { value: id },
          column0: { value: "2026-11-27+0100" },
          column1: { value: amount },
          column14: { value: "CZK" },
          column5: { value: vs },
          column10: { value: "Novák, Jan" },
        })),
      },
    },
  });
}

test("top-up with the QR code; staff upload a statement, pair a payment, set postpaid; invoices", async () => {
  const stamp = Date.now();
  const customerEmail = `platce.${stamp}@example.cz`;
  const staffEmail = `ucetni.${stamp}@example.cz`;
  const customer = await context(browser, server.base);
  const page = await customer.newPage();
  customer.allowStatus(422);
  await registerAndSignIn(page, customerEmail, "Petr Platící");

  // The credit page and a top-up: payment details and the QR image.
  await visit(page, "/app/credit", "60-credit");
  await page.fill("#amount", "1,00");
  await submit(page, "form[action='/app/credit/top-up'] button[type=submit]", "top-up-refused");
  await page.locator(".notice.error").waitFor();
  await page.fill("#amount", "500");
  await submit(page, "form[action='/app/credit/top-up'] button[type=submit]", "top-up");
  const vs = (await page.locator("dd[data-field=vs]").textContent()).trim();
  assert.match(vs, /^\d+$/);
  assert.equal((await page.locator("dd[data-field=amount]").textContent()).trim(), "500.00 Kč");
  assert.match(await page.locator("dd[data-field=iban]").textContent(), /^CZ\d{22}$/);
  const qr = page.locator("#payment img.qr");
  await qr.waitFor();
  const width = await qr.evaluate((img) => img.complete && img.naturalWidth);
  assert.ok(width > 100, `the QR image loads (${width} px)`);
  const png = await page.request.get(await qr.getAttribute("src"));
  assert.equal(png.headers()["content-type"], "image/png");
  await screenshot(page, "61-top-up-qr");

  // The low-credit threshold is kept.
  await page.fill("#threshold", "120");
  await submit(page, "form[action='/app/credit/low-credit'] button[type=submit]", "low-credit");
  assert.equal(await page.inputValue("#threshold"), "120.00");

  // Staff: the statement upload with its report, then the unpaired payment paired by hand.
  const staff = await context(browser, server.base);
  const office = await staff.newPage();
  staff.allowStatus(403, 422);
  await registerAndSignIn(office, staffEmail, "Eva Účetní");
  server.cli("users", "set-role", "--email", staffEmail, "--role", "billing");
  await visit(office, `/admin/?q=${encodeURIComponent(customerEmail)}`, null);
  const account = (await office.locator("tbody tr td").first().textContent()).trim();
  assert.match(account, /^\d+$/);

  await visit(office, "/admin/payments", "62-admin-payments");
  await office.setInputFiles("#statement", {
    name: "vypis.json", mimeType: "application/json", buffer: Buffer.from("{ not a statement"),
  });
  await submit(office, "form[action='/admin/payments/import'] button[type=submit]", "import-refused");
  await office.locator(".notice.error", { hasText: "Nic nebylo načteno" }).waitFor();
  const statement = fioStatement([[stamp, 500.0, vs.padStart(10, "0")], [stamp + 1, 42.0, "55"]]);
  await office.setInputFiles("#statement", {
    name: "vypis.json", mimeType: "application/json", buffer: Buffer.from(statement),
  });
  await submit(office, "form[action='/admin/payments/import'] button[type=submit]", "import");
  assert.equal((await office.locator("dd[data-report=credited]").textContent()).trim(), "1 (500.00 Kč)");
  assert.equal((await office.locator("dd[data-report=unpaired]").textContent()).trim(), "1");
  await screenshot(office, "63-import-report");
  const row = office.locator("tr[data-transaction]").first();
  await row.locator("input[name=account]").fill(account);
  await row.locator("input[id^=pair-note]").fill("telefonicky ověřeno");
  await submit(office, "tr[data-transaction] form[action$='/pair'] button[type=submit]", "paired");
  await office.locator(".notice.ok").waitFor();
  await office.locator("p[data-empty=unpaired]").waitFor();
  await office.getByRole("cell", { name: "telefonicky ověřeno" }).waitFor();
  await office.getByRole("cell", { name: staffEmail }).waitFor();

  // Postpaid with a limit, and the debtor list.
  await visit(office, `/admin/credit?account=${account}`, "64-admin-credit");
  await office.check("input[name=postpaid]");
  await office.fill("#limit", "1000");
  await submit(office, "form[method=post][action='/admin/credit'] button[type=submit]", "postpaid");
  await office.locator(".notice.ok").waitFor();
  assert.equal((await office.locator("[data-figure=limit]").textContent()).trim(), "1000.00 Kč");
  await visit(office, "/admin/debtors", "65-admin-debtors");
  assert.deepEqual(staff.unexpected(), []);
  await staff.close();

  // The customer: credit arrived, two invoices, a PDF.
  await visit(page, "/app/credit", null);
  assert.equal((await page.locator("[data-figure=balance]").textContent()).trim(), "592.00 Kč");
  await page.locator("[data-figure=limit]").waitFor();
  await visit(page, "/app/invoices", "66-invoices");
  assert.equal(await page.locator("tr[data-invoice]").count(), 2);
  const href = await page.locator("tr[data-invoice] a").first().getAttribute("href");
  const pdf = await page.request.get(href);
  assert.equal(pdf.status(), 200);
  assert.equal(pdf.headers()["content-type"], "application/pdf");
  assert.ok((await pdf.body()).subarray(0, 5).toString() === "%PDF-");
  assert.deepEqual(customer.unexpected(), []);
  await customer.close();
});
