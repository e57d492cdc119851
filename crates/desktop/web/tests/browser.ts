// The desktop in a real Chromium against a real recoupd with the demo book, as an agent and a
// supervisor work it. Every step leaves a screenshot under target/desktop-screens/. Setup calls a
// browser cannot make (a client stream, an integration's payment) go over native gRPC from Node.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { chromium, type Browser, type Page } from "playwright-core";
import { AccountService, DebtorType } from "../src/gen/recoup/v1/account_pb";
import { startRecoupd, type Recoupd } from "./server";

const binary = process.env.RECOUPD ?? "../../../target/debug/recoupd";
const screens = process.env.RECOUP_SCREENS ?? "../../../target/desktop-screens";
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const HOSTILE_NAME = `<img src=x onerror="window.__pwned=1"> **Bold Ltd** [pay here](javascript:window.__pwned=2) <script>window.__pwned=3</script>`;

let shots = 0;
async function shot(page: Page, name: string) {
  shots += 1;
  await page.screenshot({ path: `${screens}/${String(shots).padStart(2, "0")}-${name}.png` });
}

function native(server: Recoupd) {
  const key: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${server.keys.integration}`);
    return next(req);
  };
  return createClient(AccountService, createGrpcTransport({ baseUrl: server.url, interceptors: [key] }));
}

async function signIn(page: Page, server: Recoupd, key: string) {
  await page.goto(server.url);
  await page.getByLabel("API key or JWT").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Inert: no element, link or script made from account data ran or exists. */
async function assertInert(page: Page) {
  const found = await page.evaluate(() => ({
    pwned: (window as unknown as { __pwned?: number }).__pwned,
    images: document.querySelectorAll("img").length,
    scripts: [...document.querySelectorAll("script")].filter((s) => !s.src.endsWith("/app.js")).length,
    badLinks: [...document.querySelectorAll("a")].filter((a) => a.href && !/^(https?:|mailto:)/.test(a.href)).length,
  }));
  assert.deepEqual(found, { pwned: undefined, images: 0, scripts: 0, badLinks: 0 });
}

/** axe-core's serious and critical findings on the page as it stands. */
async function accessibility(page: Page, where: string): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (o: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `axe: serious violations on ${where}`);
  return violations.map((v) => `${v.id} (${v.impact}) at ${v.nodes.join(", ")}`);
}

function isoDaysAhead(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  return d.toISOString().slice(0, 10);
}

async function main() {
  mkdirSync(screens, { recursive: true });
  const server = await startRecoupd(binary);
  let browser: Browser | undefined;
  const report: string[] = [];
  const pages: Page[] = [];
  try {
    browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
    const agentContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await agentContext.newPage();
    pages.push(page);
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));

    // A wrong key is told clearly, and nothing is kept.
    await signIn(page, server, "rk_0000000000000000.not-a-real-secret");
    await page.getByRole("alert").filter({ hasText: "was not accepted" }).waitFor();
    report.push(`axe sign-in: ${(await accessibility(page, "sign-in")).join("; ") || "no findings"}`);
    await shot(page, "wrong-key");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("recoup.credential")), null);

    // The agent signs in and takes the next call with the keyboard.
    await page.getByLabel("API key or JWT").fill(server.keys.agent);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Signed in as agent").waitFor();
    assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
    await page.keyboard.press("n");
    const debtor = page.locator("h1.debtor");
    await debtor.waitFor();
    await page.waitForFunction(() => document.body.dataset.paintMs);
    const paint = Number(await page.evaluate(() => document.body.dataset.paintMs));
    report.push(`first call painted ${paint} ms after Next call`);
    const firstName = await debtor.textContent();
    await page.getByTestId("tone").waitFor();
    await page.getByRole("complementary", { name: "Must not" }).waitFor();
    await page.getByRole("timer").filter({ hasText: "Held for you" }).waitFor();
    report.push(`axe prepared call: ${(await accessibility(page, "the prepared call")).join("; ") || "no findings"}`);
    await shot(page, "prepared-call");

    // A plan below the floor: the violation appears beside the amount, with the limit.
    await page.getByLabel("Arrangement").selectOption({ label: "Instalments" });
    await page.getByLabel(/^Instalment \(/).fill("1");
    await page.getByLabel("First payment").fill(isoDaysAhead(7));
    const amountError = page.locator("#plan-amount-error");
    await amountError.filter({ hasText: /at least [A-Z]{3} [\d,]+\.\d{2}/ }).waitFor();
    await shot(page, "plan-below-floor");

    // One click on a counter-proposal, then the plan is created with its written agreement.
    await page.locator("button.counter").first().click();
    await page.locator(".plan-check .ok").filter({ hasText: "Within policy" }).waitFor();
    await page.getByRole("button", { name: "Create plan" }).click();
    await page.getByText("Plan created").waitFor();
    await shot(page, "plan-created");

    // The outcome: "plan agreed" is offered with the plan just made.
    await page.keyboard.press("o");
    await page.getByLabel("Outcome", { exact: true }).waitFor();
    assert.equal(await page.getByLabel("Outcome", { exact: true }).inputValue(), "planAgreed");
    await page.getByLabel("Notes").fill("Agreed the plan; agreement to follow by email.");
    await page.getByRole("button", { name: "Record outcome" }).click();
    await page.getByRole("status").filter({ hasText: "Recorded: agreed a payment plan" }).waitFor();
    await shot(page, "outcome-recorded");

    // The next call is another account.
    await page.keyboard.press("n");
    await page.waitForFunction((first) => document.querySelector("h1.debtor")?.textContent !== first, firstName);
    await debtor.waitFor();
    const secondRef = (await page.locator(".ref strong").first().textContent())!;
    await shot(page, "next-call");

    // A payment recorded through the API shows on the open account without a reload.
    const api = native(server);
    const open = await api.getAccount({ account: { case: "externalRef", value: secondRef } });
    await api.recordPayment({
      requestId: "desktop-test-payment",
      parent: open.name,
      payment: {
        amount: { currencyCode: open.currencyCode, units: 10n, nanos: 0 },
        paymentDate: (() => {
          const [y, m, d] = isoDaysAhead(0).split("-").map(Number);
          return { year: y, month: m, day: d };
        })(),
        reference: "BACS 4471",
      },
    });
    await page.locator(".live").filter({ hasText: `Payment received just now: ${open.currencyCode} 10.00, ref BACS 4471` }).waitFor();
    await shot(page, "payment-live");

    // A settlement beyond the agent's authority goes to a supervisor.
    await page.keyboard.press("r");
    await page.locator(".claim").waitFor({ state: "detached" });
    await page.keyboard.press("f");
    await page.keyboard.type("DEMO-007");
    await page.keyboard.press("Enter");
    await page.locator(".ref strong").filter({ hasText: "DEMO-007" }).waitFor();
    await page.getByLabel("Arrangement").selectOption({ label: "Settlement" });
    await page.getByLabel("Discount (%)").fill("15");
    await page.getByLabel("Pay by").fill(isoDaysAhead(10));
    await page.locator(".plan-check .ok").filter({ hasText: "needs a supervisor's approval" }).waitFor();
    await page.getByRole("button", { name: "Create plan" }).click();
    await page.getByText("Plan created: Awaiting approval").waitFor();
    await shot(page, "settlement-awaiting-approval");
    await page.keyboard.press("r");
    await page.locator(".claim").waitFor({ state: "detached" });

    // Hostile data from a CRM is shown as text and never runs: the account, then a letter.
    const hostile = await api.importAccounts(
      (async function* () {
        yield {
          requestId: "desktop-hostile",
          account: {
            externalRef: "HOSTILE-1",
            legalName: HOSTILE_NAME,
            debtorType: DebtorType.COMPANY,
            countryCode: "GB",
            timeZone: "Europe/London",
            currencyCode: "GBP",
            contacts: [{ displayName: "<b>Eve</b> [x](javascript:alert(1))", role: "AP", phone: "+44 20 7946 0000", email: "eve@example.com", preferred: true }],
            invoices: [
              {
                number: "<i>INV-1</i>",
                issueDate: { year: 2026, month: 9, day: 1 },
                dueDate: { year: 2026, month: 10, day: 1 },
                amount: { currencyCode: "GBP", units: 1200n, nanos: 0 },
              },
            ],
          },
        };
      })(),
    );
    assert.equal(hostile.created, 1n, JSON.stringify(hostile.rejections));
    await page.keyboard.press("f");
    await page.keyboard.type("HOSTILE-1");
    await page.keyboard.press("Enter");
    await page.locator(".ref strong").filter({ hasText: "HOSTILE-1" }).waitFor();
    assert.equal(await debtor.textContent(), HOSTILE_NAME, "the name is shown exactly, as text");
    await assertInert(page);
    await page.keyboard.press("l");
    await page.getByRole("button", { name: "Render and keep as sent" }).click();
    await page.getByRole("article", { name: "Letter preview" }).waitFor();
    await assertInert(page);
    await shot(page, "hostile-data-inert");
    assert.deepEqual(dialogs, [], "no script from data ran");
    await page.keyboard.press("r");

    // The supervisor approves the plan the agent created, on a screen of their own.
    const supervisorContext = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const boss = await supervisorContext.newPage();
    pages.push(boss);
    boss.on("pageerror", (e) => pageErrors.push(String(e)));
    await signIn(boss, server, server.keys.supervisor);
    await boss.getByText("Signed in as supervisor").waitFor();
    await boss.keyboard.press("s");
    const approve = boss.getByRole("button", { name: "Approve the plan for DEMO-007" });
    await approve.waitFor();
    // The team report: weekly charts drawn as elements, and the table by agent.
    await boss.locator("#report-agents").waitFor();
    assert.ok((await boss.locator("#report figure.chart svg rect").count()) > 0, "the report draws its charts");
    const agentsTable = await boss.locator("#report-agents").innerText();
    assert.match(agentsTable, /Agent\s+Collected/, "the table by agent has its columns");
    report.push(`axe supervisor: ${(await accessibility(boss, "the supervisor screen")).join("; ") || "no findings"}`);
    await shot(boss, "supervisor-queue");
    await boss.locator("#report").scrollIntoViewIfNeeded();
    await shot(boss, "supervisor-report");
    await approve.click();
    await boss.getByRole("status").filter({ hasText: "Awaiting signature" }).waitFor();
    await approve.waitFor({ state: "detached" });
    await shot(boss, "supervisor-approved");

    // The prepared call at 1920x1080 too.
    await boss.getByRole("button", { name: "Calls" }).click();
    await boss.getByRole("button", { name: /^Next call/ }).waitFor();
    await boss.keyboard.press("n");
    await boss.locator("h1.debtor").waitFor();
    await shot(boss, "prepared-call-1920");

    assert.deepEqual(pageErrors, [], "no script errors on the page");
    report.push(`${shots} screenshots in ${screens}`);
    console.log(["desktop browser tests passed", ...report].join("\n  "));
  } catch (e) {
    // What each page showed when the step failed.
    for (const [i, p] of pages.entries()) await p.screenshot({ path: `${screens}/failed-page-${i + 1}.png` }).catch(() => {});
    throw e;
  } finally {
    await browser?.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
