// Browser test of the app's Devices page against the real binary: a customer adds a device and
// sees its one-time pairing code and QR code (an inline SVG), the device pairs and says hello
// over HTTP (the long-poll fallback of the device protocol) and shows up online with its
// battery and limits, the account's route choice is kept, and a revoked device's credential is
// refused at once. Every page visited must be valid HTML and log no console error.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
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

/** A request of the device itself (no cookies, its own credential). */
async function device(path, body, credential) {
  const headers = { "content-type": "application/json" };
  if (credential) { headers.authorization = `Bearer ${credential}`; }
  const r = await fetch(`${server.base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}

test("devices: add one, see the code and QR once, pair it, see it online, route, revoke", async () => {
  const ctx = await context(browser, server.base);
  ctx.allowStatus(422);
  const { page } = await newCustomer(server, ctx, "devices");

  await visit(page, "/app/devices", "80-devices-empty");
  await page.locator("#no-devices").waitFor();
  await page.locator("nav a[aria-current=page][href^='/app/devices']").waitFor();

  // A limit the API refuses is refused here with the API's reason, the form kept (the
  // browser's own checks of the field are skipped, as an old browser would).
  await page.locator("form[action='/app/devices']").evaluate((f) => { f.noValidate = true; });
  await page.fill("#device-name", "Kancelářský modem");
  await page.fill("#per-minute", "0");
  const refused = await submit(page, "form[action='/app/devices'] button[type=submit]", "device-refused");
  assert.equal(refused.status(), 422);
  await page.locator(".notice.error", { hasText: "per_minute" }).waitFor();
  assert.equal(await page.inputValue("#device-name"), "Kancelářský modem");

  // Added: the code and its QR code, shown in this answer only.
  await page.fill("#per-minute", "5");
  await page.fill("#per-day", "100");
  const added = await submit(page, "form[action='/app/devices'] button[type=submit]", "device-added");
  assert.equal(added.status(), 201);
  const code = (await page.locator("#pairing-code").textContent()).trim();
  assert.match(code, /^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
  const svg = page.locator("#pairing-qr svg");
  await svg.waitFor();
  const box = await svg.boundingBox();
  assert.ok(box && box.width >= 150, `the QR code is drawn (${box?.width} px)`);
  const link = (await page.locator("#pairing-link").textContent()).trim();
  assert.equal(link, `apisendsms://pair?server=${encodeURIComponent(server.base)}&code=${code}`);
  await screenshot(page, "81-device-pairing");
  const row = page.locator("#devices tr[data-device]");
  assert.equal(await row.count(), 1);
  const id = await row.getAttribute("data-device");
  assert.equal((await row.locator("[data-field=online]").textContent()).trim(), "offline");
  // The code is never shown again.
  await visit(page, "/app/devices", null);
  assert.equal(await page.locator("#pairing-code").count(), 0);
  assert.ok(!(await page.content()).includes(code));

  // The device pairs with the code (once) and says hello.
  const paired = await device("/v1/devices/pair", { code });
  assert.equal(paired.status, 200, JSON.stringify(paired.body));
  assert.equal(paired.body.device_id, id);
  const credential = paired.body.credential;
  assert.equal((await device("/v1/devices/pair", { code })).status, 422, "a code works once");
  const hello = await device("/v1/devices/poll",
    { frames: [{ type: "hello", model: "Pixel 7", signal: 20, battery: 87 }], wait_s: 0 }, credential);
  assert.equal(hello.status, 200, JSON.stringify(hello.body));
  assert.equal(hello.body.frames[0].type, "welcome");

  await visit(page, "/app/devices", "82-device-online");
  const live = page.locator(`#devices tr[data-device="${id}"]`);
  assert.equal((await live.locator("[data-field=online]").textContent()).trim(), "online");
  assert.equal((await live.locator("[data-field=status]").textContent()).trim(), "spárováno");
  assert.equal((await live.locator("[data-field=day]").textContent()).trim(), "0 / 100");
  await live.getByText("Pixel 7").waitFor();
  await live.getByText("87 %").waitFor();
  await live.getByText("20/31 (-73 dBm)").waitFor();

  // The account's route choice: through its devices, the carrier after two minutes offline.
  await page.check("#route-device");
  await page.fill("#offline-wait", "120");
  await page.check("#fallback-carrier");
  await submit(page, "form[action='/app/devices/routing'] button[type=submit]", "routing");
  await page.locator(".notice.ok").waitFor();
  await visit(page, "/app/devices", null);
  assert.ok(await page.isChecked("#route-device"));
  assert.ok(await page.isChecked("#fallback-carrier"));
  assert.equal(await page.inputValue("#offline-wait"), "120");
  await page.locator("form[action='/app/devices/routing']").evaluate((f) => { f.noValidate = true; });
  await page.fill("#offline-wait", "999999");
  const badWait = await submit(page, "form[action='/app/devices/routing'] button[type=submit]", "routing-refused");
  assert.equal(badWait.status(), 422);
  await page.locator(".notice.error", { hasText: "offline_wait_s" }).waitFor();

  // Revoked: the credential is refused at once, and the page says so.
  await submit(page, `#devices tr[data-device="${id}"] form[action$='/revoke'] button`, "revoked");
  const gone = page.locator(`#devices tr[data-device="${id}"]`);
  assert.equal((await gone.locator("[data-field=status]").textContent()).trim(), "zneplatněno");
  assert.equal((await gone.locator("[data-field=online]").textContent()).trim(), "offline");
  assert.equal(await gone.locator("form[action$='/revoke']").count(), 0);
  const after = await device("/v1/devices/poll", { frames: [{ type: "hello" }], wait_s: 0 }, credential);
  assert.equal(after.status, 401, JSON.stringify(after.body));
  await screenshot(page, "83-device-revoked");

  assert.deepEqual(ctx.unexpected(), []);
  await ctx.close();
});
