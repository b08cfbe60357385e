// Headless Chromium (Debian's package) through playwright-core, with helpers that every page
// must pass: no console errors and valid HTML.
import { chromium } from "playwright-core";
import { HtmlValidate } from "html-validate";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const here = path.dirname(fileURLToPath(import.meta.url));
export const artifacts = path.resolve(here, "..", "artifacts");
mkdirSync(artifacts, { recursive: true });

export async function launch() {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A new browser context whose pages record console errors and failed requests. */
export async function context(browser, base) {
  const ctx = await browser.newContext({ baseURL: base, viewport: { width: 1200, height: 900 } });
  ctx.errors = [];
  ctx.allowed = [];
  /** Errors that are not expected: the browser reports an answer with an error status that
   * the test asked for (a refused form) as a console error, and a navigation aborts the
   * requests of the page it leaves. */
  ctx.unexpected = () => ctx.errors.filter((e) => !ctx.allowed.some((re) => re.test(e)));
  /** Expects the browser to report documents answered with these statuses. */
  ctx.allowStatus = (...codes) => {
    ctx.allowed.push(new RegExp(`Failed to load resource: the server responded with a status of (${codes.join("|")})`));
  };
  ctx.on("page", (page) => watch(ctx, page));
  return ctx;
}

function watch(ctx, page) {
  page.on("console", (m) => {
    if (m.type() === "error") { ctx.errors.push(`${page.url()}: console: ${m.text()}`); }
  });
  page.on("pageerror", (e) => ctx.errors.push(`${page.url()}: ${e.message}`));
  page.on("requestfailed", (r) => {
    const why = r.failure()?.errorText || "";
    if (why !== "net::ERR_ABORTED") { ctx.errors.push(`${r.url()}: request failed ${why}`); }
  });
}

const validator = new HtmlValidate({
  extends: ["html-validate:recommended"],
  rules: {
    // Long lines of Czech text are not markup errors.
    "long-title": "off",
    // A form's hidden CSRF field has no label by design.
    "input-missing-label": ["error", { ignoreHidden: true }],
    // A submit button may carry name/value to tell which action was chosen.
    "form-dup-name": "off",
  },
});

/** Asserts that the page's HTML (as served) is valid. */
export async function assertValidHtml(html, name) {
  const report = await validator.validateString(html, name);
  const messages = report.results.flatMap((r) => r.messages)
    .map((m) => `${name}:${m.line}:${m.column} ${m.ruleId}: ${m.message}`);
  assert.deepEqual(messages, [], `HTML of ${name} is not valid:\n${messages.join("\n")}`);
}

/** Visits a path, checks the status, the HTML and the console, and takes a screenshot. */
export async function visit(page, pathname, shot, expectedStatus = 200) {
  const response = await page.goto(pathname);
  assert.equal(response.status(), expectedStatus, `${pathname} answered ${response.status()}`);
  const html = await response.text();
  await assertValidHtml(html, pathname);
  if (shot) { await page.screenshot({ path: path.join(artifacts, `${shot}.png`), fullPage: true }); }
  return response;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}
