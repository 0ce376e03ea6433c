// The page at / of `cairn serve` in headless Chromium (tests/e2e/webpage.sh): type the API
// key, ask a question, see the answer stream in with citation links, click one and see the
// quoted passage marked in its document; search and open a result; a wrong key shows the
// error. Saves a screenshot to $CAIRN_SCREENSHOT. Exits non-zero on any failure.
import { chromium } from "playwright-core";

const url = process.env.CAIRN_URL;
const fails = [];
const check = (cond, what) => { if (!cond) { fails.push(what); console.error("FAIL:", what); } };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const outside = [];
  page.on("request", (r) => { if (!r.url().startsWith(url)) outside.push(r.url()); });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url + "/");
  await page.fill("#key", process.env.CAIRN_KEY);
  await page.dispatchEvent("#key", "change");
  await page.fill("#q", process.env.CAIRN_QUESTION);
  await page.click("#ask");
  await page.waitForSelector("#answer p.s", { timeout: 20000 });
  await page.waitForSelector("#sources li", { timeout: 20000 });
  const answer = await page.textContent("#answer");
  check(answer.includes(process.env.CAIRN_EXPECT), `answer shown: ${answer}`);
  const cites = await page.$$("#answer a.cite");
  check(cites.length > 0, "citation links in the answer");
  await cites[0].click();
  await page.waitForSelector("#passage mark#quote", { timeout: 10000 });
  const quote = await page.textContent("#passage mark#quote");
  check(quote.includes(process.env.CAIRN_EXPECT), `the cited quote is marked in its passage: ${quote}`);
  if (process.env.CAIRN_SCREENSHOT) await page.screenshot({ path: process.env.CAIRN_SCREENSHOT, fullPage: true });
  await page.click("#search");
  await page.waitForSelector("#results .hit", { timeout: 10000 });
  await page.click("#results a.result");
  await page.waitForSelector("#passage-text", { timeout: 10000 });
  await page.fill("#key", "cn_wrong");
  await page.dispatchEvent("#key", "change");
  await page.click("#ask");
  await page.waitForSelector("#answer p.err", { timeout: 10000 });
  check((await page.textContent("#answer p.err")).includes("unauthorized"), "a wrong key shows the error");
  check(outside.length === 0, `requests outside the server: ${outside}`);
  check(errors.length === 0, `page errors: ${errors}`);
} finally {
  await browser.close();
}
console.log(fails.length ? `${fails.length} checks failed` : "ok");
process.exit(fails.length ? 1 : 0);
