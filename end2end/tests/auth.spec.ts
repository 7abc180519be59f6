import { expect, test } from "@playwright/test";
import {
  closeContexts,
  expectSignedInAs,
  newPerson,
  registerThroughApi,
  signIn,
  signOut,
  signUp,
  watchErrors,
} from "./helpers";

test.beforeEach(({ context }) => watchErrors(context));
test.afterEach(closeContexts);

test("a new user signs up, signs out and signs back in", async ({ page }) => {
  const ann = newPerson("Ann");

  await signUp(page, ann);
  await expectSignedInAs(page, ann);

  await signOut(page, ann.displayName);
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("banner").getByText(ann.displayName)).toHaveCount(0);

  await signIn(page, ann.email, ann.password);
  await expectSignedInAs(page, ann);

  await page.reload();
  await expectSignedInAs(page, ann);
});

test("a wrong password shows an alert and signs nobody in", async ({ page, request }) => {
  const bob = newPerson("Bob");
  await registerThroughApi(request, bob);

  await signIn(page, bob.email, "not-the-password");

  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
});

test("a taken handle is reported beside the sign-up form", async ({ page, request }) => {
  const first = newPerson("Cid");
  await registerThroughApi(request, first);

  await signUp(page, { ...newPerson("Dee"), handle: first.handle });

  await expect(page.getByRole("alert")).toHaveText("That handle is already taken.");
});

test("a signed-out visitor is sent to sign in", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the forms still sign up, sign out and report errors", async ({ page }) => {
    const eve = newPerson("Eve");

    const noJs = { hydrated: false };
    await signUp(page, eve, noJs);
    await expectSignedInAs(page, eve);

    await signOut(page, eve.displayName);
    await expect(page).toHaveURL(/\/login$/);

    await signIn(page, eve.email, "wrong-password", noJs);
    await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");

    await signIn(page, eve.email, eve.password, noJs);
    await expectSignedInAs(page, eve);
  });
});
