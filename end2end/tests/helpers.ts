import {
  expect,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
  type TestInfo,
} from "@playwright/test";

/** A fresh account's details; unique per call so tests never collide. */
export function newPerson(name = "Ann") {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return {
    email: `${name.toLowerCase()}-${id}@example.com`,
    password: `pass-${id}-word`,
    displayName: `${name} ${id.slice(-4)}`,
    handle: `${name.toLowerCase()}_${id}`.slice(0, 32),
  };
}

export type Person = ReturnType<typeof newPerson>;

/** Creates the account through the HTTP API, outside any page's cookies. */
export async function registerThroughApi(request: APIRequestContext, person: Person) {
  const response = await request.post("/api/register", {
    form: {
      email: person.email,
      password: person.password,
      display_name: person.displayName,
      handle: person.handle,
    },
  });
  expect(response.status()).toBe(200);
}

/**
 * Opens a page and, unless JavaScript is off, waits until the WASM has
 * hydrated it, so the test exercises the interactive path rather than
 * racing it with plain form posts.
 */
export async function open(page: Page, path: string, { hydrated = true } = {}) {
  await page.goto(path);
  if (hydrated) {
    await page.locator("body[data-hydrated]").waitFor();
  }
}

/** Fills and submits the sign-up form. */
export async function signUp(page: Page, person: Person, options = { hydrated: true }) {
  await open(page, "/signup", options);
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password").fill(person.password);
  await page.getByLabel("Display name").fill(person.displayName);
  await page.getByLabel("Handle").fill(person.handle);
  await page.getByRole("button", { name: "Create account" }).click();
}

/** Fills and submits the sign-in form. */
export async function signIn(
  page: Page,
  email: string,
  password: string,
  options = { hydrated: true },
) {
  await open(page, "/login", options);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The header's user menu button, named by the person's display name. */
export function userMenu(page: Page, displayName: string) {
  return page.getByRole("banner").getByRole("button", { name: displayName });
}

/**
 * Opens the header's user menu (it holds "Edit name", "Account" and
 * "Sign out"). Without JavaScript a click focuses the button, which shows
 * the menu while focus stays inside it.
 */
export async function openUserMenu(page: Page, displayName: string) {
  await userMenu(page, displayName).click();
  await expect(page.getByRole("banner").getByRole("button", { name: "Sign out" })).toBeVisible();
}

/** Signs out through the user menu. */
export async function signOut(page: Page, displayName: string) {
  await openUserMenu(page, displayName);
  await page.getByRole("banner").getByRole("button", { name: "Sign out" }).click();
}

/** The header once someone is signed in. */
export async function expectSignedInAs(page: Page, person: Person) {
  const header = page.getByRole("banner");
  await expect(header.getByText(person.displayName)).toBeVisible();
  await expect(userMenu(page, person.displayName)).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
}

// Each open page holds an event stream, and Chromium allows six HTTP/1.1
// connections per host: contexts must be closed after each test.
const contexts: BrowserContext[] = [];
// What the pages of those contexts reported as errors, shown if the test
// fails: a page that never hydrates says why only in its console.
const browserErrors: string[] = [];

/** Records what the context's pages report as errors, for `closeContexts`. */
export function watchErrors(context: BrowserContext) {
  context.on("weberror", (error) => browserErrors.push(`uncaught: ${error.error().message}`));
  context.on("console", (message) => {
    if (message.type() === "error") {
      const { url } = message.location();
      browserErrors.push(`console: ${message.text()}${url ? ` (${url})` : ""}`);
    }
  });
  context.on("requestfailed", (request) => {
    const error = request.failure()?.errorText;
    // Leaving a page aborts its event stream: not an error. Any other
    // aborted request (the app's script or WebAssembly) is worth seeing.
    if (!(error === "net::ERR_ABORTED" && request.url().endsWith("/api/events"))) {
      browserErrors.push(`request failed: ${request.method()} ${request.url()}: ${error}`);
    }
  });
}

/** A browser context that `closeContexts` closes and whose errors it reports. */
export async function newContext(
  browser: Browser,
  options: Parameters<Browser["newContext"]>[0] = {},
): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  contexts.push(context);
  watchErrors(context);
  return context;
}

/**
 * Closes the contexts `newContext` opened; if the test failed, first prints
 * the errors of the pages watched (`watchErrors`) and attaches them to the
 * test's report. Use it as `test.afterEach`.
 */
export async function closeContexts({}, testInfo: TestInfo) {
  if (testInfo.status !== testInfo.expectedStatus && browserErrors.length > 0) {
    const errors = browserErrors.join("\n");
    console.log(`Browser errors during "${testInfo.title}":\n${errors}`);
    await testInfo.attach("browser errors", { body: errors, contentType: "text/plain" });
  }
  browserErrors.length = 0;
  for (const context of contexts.splice(0)) {
    await context.close();
  }
}

/** A signed-in person in a browser context of their own. */
export async function personIn(
  browser: Browser,
  name: string,
  options: Parameters<Browser["newContext"]>[0] = {},
): Promise<{ page: Page; person: Person }> {
  const context = await newContext(browser, options);
  const page = await context.newPage();
  const person = newPerson(name);
  await signUp(page, person);
  await expect(page.getByRole("status")).toHaveText("Live");
  return { page, person };
}

export async function createRoom(page: Page, name: string) {
  await page.getByRole("button", { name: "New room" }).click();
  await page.getByLabel("Room name").fill(name);
  await page.getByRole("button", { name: "Create room" }).click();
  await expect(page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Message" })).toBeVisible();
}

/** Joins a public room through "Browse rooms", found with its name filter. */
export async function joinRoom(page: Page, name: string) {
  await page.getByRole("button", { name: "Browse rooms" }).click();
  const directory = page.getByRole("region", { name: "Public rooms" });
  await directory.getByLabel("Filter rooms").fill(name);
  // Only the room whose name has words starting with each typed word.
  await expect(directory.getByRole("listitem")).toHaveCount(1);
  await directory.getByRole("listitem").filter({ hasText: name }).getByRole("button", { name: "Join" }).click();
  await expect(page.getByRole("textbox", { name: "Message" })).toBeVisible();
}

/** Sends with Enter and waits until the server has acknowledged it. */
export async function send(page: Page, text: string) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await expect(box).toHaveValue("");
  await expect(log(page).locator(".message.pending")).toHaveCount(0);
}

/** Loads the page again from the server, as a reload does, and waits until it is hydrated. */
export async function reopen(page: Page) {
  await page.goto(page.url(), { waitUntil: "domcontentloaded" });
  await page.locator("body[data-hydrated]").waitFor();
}

export function log(page: Page) {
  return page.getByRole("log", { name: "Messages" });
}

export function uniqueRoom(prefix: string) {
  return `${prefix} ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
