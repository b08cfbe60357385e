// The steps every signed-in test starts with: registration, the e-mail link, sign-in.
import assert from "node:assert/strict";
import { visit } from "./browser.js";

export async function register(page, { email, birth, marketing = false, password = "correct horse battery" }) {
  await page.goto("/app/register");
  await page.fill("#full_name", "Jana Nováková");
  await page.fill("#address", "Světova 523/1, Praha 8");
  await page.fill("#email", email);
  await page.fill("#birth_date", birth);
  await page.fill("#password", password);
  await page.check("#terms");
  if (marketing) { await page.check("#marketing"); }
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click("form[action='/app/register'] button[type=submit]"),
  ]);
  return response;
}

export async function signIn(page, email, password = "correct horse battery") {
  await page.goto("/app/login");
  await page.fill("#email", email);
  await page.fill("#password", password);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click("form[action='/app/login'] button[type=submit]"),
  ]);
  return response;
}

/** Follows the link of the newest e-mail in the server's outbox (the verification). */
export async function verifyLatest(server, page) {
  const links = server.links();
  assert.ok(links.length > 0, "an e-mail with a link is in the outbox");
  const url = new URL(links[links.length - 1]);
  await visit(page, url.pathname + url.search, null);
  await page.getByText(/E-mail je ověřen|e-mail is verified/).waitFor();
}

/** A new customer, registered, verified and signed in, in a fresh page of `ctx`. */
export async function newCustomer(server, ctx, name) {
  const page = await ctx.newPage();
  const email = `${name}.${Date.now()}@example.cz`;
  await register(page, { email, birth: "1980-05-05" });
  await verifyLatest(server, page);
  await signIn(page, email);
  return { page, email };
}
