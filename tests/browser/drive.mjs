// Drives Debian's Chromium through a list of steps for the browser tests and prints what each
// step saw as one JSON line. Usage: node drive.mjs '<steps as JSON>'
// Steps: {"goto": url}, {"click": selector} (waits for the navigation it starts),
// {"fill": [selector, value]}, {"upload": [selector, path]}, {"select": [selector, value]},
// {"screenshot": path}, {"pdf": path}, {"viewport": [width, height, scale]}, {"axe": true}
// (axe-core, pinned in package.json, run on the page as it stands: its serious and critical
// violations are reported under "axe"; evaluated through the driver, so the page's CSP, which
// forbids every script, stays as it is).
// After every step: the page's URL, the status of the last navigation, its HTML and any
// console message or page error (a Content-Security-Policy refusal shows there).
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const axeSource = () =>
  readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const steps = JSON.parse(process.argv[2] ?? "[]");
if (!process.env.CHROMIUM_FLAGS) {
  throw new Error("CHROMIUM_FLAGS is unset: run through tests/src/browser.rs (drive)");
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // The flags are tests/src/browser.rs's CHROMIUM_FLAGS, one list for both drivers.
  args: JSON.parse(process.env.CHROMIUM_FLAGS),
});
const out = [];
try {
  let context = await browser.newContext({ locale: "ja-JP" });
  let page = await context.newPage();
  const messages = [];
  const watch = (p) => {
    p.on("console", (m) => messages.push(`${m.type()}: ${m.text()}`));
    p.on("pageerror", (e) => messages.push(`pageerror: ${e.message}`));
  };
  watch(page);
  let status = null;
  for (const step of steps) {
    if (step.viewport) {
      const [width, height, scale] = step.viewport;
      await context.close();
      context = await browser.newContext({
        locale: "ja-JP",
        viewport: { width, height },
        deviceScaleFactor: scale ?? 1,
      });
      page = await context.newPage();
      watch(page);
    } else if (step.goto) {
      const r = await page.goto(step.goto, { timeout: 30000 });
      status = r ? r.status() : null;
    } else if (step.click) {
      const [r] = await Promise.all([
        page.waitForNavigation({ timeout: 30000 }).catch(() => null),
        page.click(step.click, { timeout: 30000 }),
      ]);
      if (r) status = r.status();
    } else if (step.fill) {
      await page.fill(step.fill[0], step.fill[1], { timeout: 30000 });
    } else if (step.upload) {
      await page.setInputFiles(step.upload[0], step.upload[1], { timeout: 30000 });
    } else if (step.select) {
      await page.selectOption(step.select[0], step.select[1], { timeout: 30000 });
    } else if (step.screenshot) {
      await page.screenshot({ path: step.screenshot, fullPage: true });
    } else if (step.pdf) {
      await page.emulateMedia({ media: "print" });
      await page.pdf({ path: step.pdf, preferCSSPageSize: true, printBackground: true });
      await page.emulateMedia({ media: "screen" });
    }
    let axe = null;
    if (step.axe) {
      await page.evaluate(axeSource());
      const result = await page.evaluate(() =>
        // eslint-disable-next-line no-undef
        axe.run(document, { resultTypes: ["violations"] }),
      );
      axe = result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
    }
    out.push({ step, url: page.url(), status, html: await page.content(), messages: [...messages], axe });
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
