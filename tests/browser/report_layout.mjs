// Opens report.html in Debian's Chromium, headless, and prints what a reviewer sees in the first screen.
// Usage: node report_layout.mjs REPORT_HTML SCREENSHOT_PNG [--no-js]
import { chromium } from "playwright-core";

const [page_path, screenshot, flag] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: flag !== "--no-js" });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (error) => errors.push(String(error)));
const requests = [];
page.on("request", (request) => { if (!request.url().startsWith("file:")) requests.push(request.url()); });
await page.goto("file://" + page_path);
await page.screenshot({ path: screenshot });
const box = async (selector) => {
  const element = await page.$(selector);
  if (!element) return null;
  const rect = await element.boundingBox();
  return rect && { top: rect.y, bottom: rect.y + rect.height, height: rect.height, visible: await element.isVisible() };
};
const report = {
  viewport: page.viewportSize(),
  verdict: await box("#verdict"),
  first_card: await box(".card"),
  table: await box("#checks table"),
  filters_visible: await page.isVisible("#filters"),
  copy_buttons: await page.$$eval("button.copy", (items) => items.length),
  // A check id on two lines would be taller than one line of its text.
  wrapped_check_ids: await page.$$eval("code.check-id", (items) => items.filter((item) => {
    const line = parseFloat(getComputedStyle(item).lineHeight) || parseFloat(getComputedStyle(item).fontSize) * 1.5;
    return item.getBoundingClientRect().height > line * 1.5;
  }).map((item) => item.textContent)),
  horizontal_overflow: await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth),
  errors,
  requests,
};
console.log(JSON.stringify(report));
await browser.close();
