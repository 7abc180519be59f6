// Accessibility checks with axe-core on the sign-in page, the home page
// and a room, in the light and the dark theme: no serious or critical
// violations (contrast, names, roles, landmarks…).
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { closeContexts, createRoom, newContext, newPerson, open, send, signUp, uniqueRoom } from "./helpers";

test.afterEach(closeContexts);

async function expectNoSeriousViolations(page: Page, where: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id}: ${violation.help} at ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
  expect(serious, `axe on ${where}`).toEqual([]);
}

for (const colorScheme of ["light", "dark"] as const) {
  test(`no serious accessibility violations on sign-in, home and a room (${colorScheme})`, async ({ browser }) => {
    const context = await newContext(browser, { colorScheme });
    const page = await context.newPage();
    await open(page, "/login");
    await expectNoSeriousViolations(page, "the sign-in page");

    await signUp(page, newPerson("Ann"));
    await expect(page.getByRole("status")).toHaveText("Live");
    await expectNoSeriousViolations(page, "the home page");

    await createRoom(page, uniqueRoom("Axe"));
    await send(page, "Hello, https://example.com and @nobody");
    await expectNoSeriousViolations(page, "a room");
    await page.getByRole("searchbox", { name: "Search messages" }).fill("hello exa");
    await expect(page.getByRole("list", { name: "Search results" }).getByRole("link")).toHaveCount(1);
    await expectNoSeriousViolations(page, "the search results");
    await page.keyboard.press("Escape");
    await expect(page.getByRole("list", { name: "Search results" })).toHaveCount(0);

    // The owner's room settings, and a new direct message's form.
    await page.getByRole("button", { name: "Room settings" }).click();
    await expect(page.getByRole("region", { name: "Room settings" })).toBeVisible();
    await expectNoSeriousViolations(page, "the room settings");
    await page.getByRole("button", { name: "New message" }).click();
    await expect(page.getByRole("textbox", { name: "People" })).toBeVisible();
    await expectNoSeriousViolations(page, "the new message form");

    // What opens over it: the user menu and the room switcher.
    await page.getByRole("banner").getByRole("button", { name: "(user menu)" }).click();
    await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
    await expectNoSeriousViolations(page, "the user menu");
    await page.keyboard.press("Escape");
    await page.keyboard.press("Control+k");
    await expect(page.getByRole("dialog", { name: "Switch room" })).toBeVisible();
    await expectNoSeriousViolations(page, "the room switcher");
    await page.keyboard.type("zzzz");
    await expectNoSeriousViolations(page, "the room switcher with nothing found");
    await page.keyboard.press("Escape");
  });
}

test("no serious accessibility violations on a phone: the room list, a room, the members drawer", async ({
  browser,
}) => {
  const context = await newContext(browser, { viewport: { width: 360, height: 740 }, hasTouch: true, isMobile: true });
  const page = await context.newPage();
  await signUp(page, newPerson("Ann"));
  await expect(page.getByRole("status")).toHaveText("Live");
  const response = await page.request.post("/api/create_room", { form: { name: uniqueRoom("Axe phone"), private: "false" } });
  expect(response.status()).toBe(200);
  await page.reload();
  await page.locator("body[data-hydrated]").waitFor();
  await expectNoSeriousViolations(page, "the room list on a phone");
  await page.getByRole("navigation", { name: "Rooms" }).getByRole("link").first().click();
  await send(page, "Hello from a phone");
  await expectNoSeriousViolations(page, "a room on a phone");
  await page.getByRole("button", { name: "Members" }).click();
  await expect(page.getByRole("button", { name: "Close members" })).toBeFocused();
  await expectNoSeriousViolations(page, "the members drawer");
});
