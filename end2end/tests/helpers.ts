import { expect, type APIRequestContext, type Page } from "@playwright/test";

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

/** The header once someone is signed in. */
export async function expectSignedInAs(page: Page, person: Person) {
  const header = page.getByRole("banner");
  await expect(header.getByText(person.displayName)).toBeVisible();
  await expect(header.getByRole("button", { name: "Sign out" })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
}
