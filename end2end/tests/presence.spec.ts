import { expect, test } from "@playwright/test";
import {
  closeContexts,
  createRoom,
  joinRoom,
  log,
  openUserMenu,
  personIn,
  send,
  uniqueRoom,
} from "./helpers";

test.afterEach(closeContexts);

test("people see who is online, and someone who closes the page disappears", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Presence");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);

  const bobsOnline = bob.page.getByRole("list", { name: "Online" });
  await expect(bobsOnline.getByText(ann.person.displayName)).toBeVisible();
  const annsOnline = ann.page.getByRole("list", { name: "Online" });
  await expect(annsOnline.getByText(bob.person.displayName)).toBeVisible();

  // Typing shows up on the other side, and fades.
  await ann.page.getByRole("textbox", { name: "Message" }).fill("thinking");
  await expect(bob.page.getByText(`${ann.person.displayName} is typing…`)).toBeVisible();
  await expect(bob.page.getByText(`${ann.person.displayName} is typing…`)).toHaveCount(0, {
    timeout: 10_000,
  });

  await ann.page.close();
  await expect(bobsOnline.getByText(ann.person.displayName)).toHaveCount(0, { timeout: 20_000 });
});

test("a mention raises the other person's notification count without reload", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Mentions");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);
  await expect(bob.page.getByRole("button", { name: "Notifications", exact: true })).toBeVisible();

  await send(ann.page, `hi @${bob.person.handle}, look`);

  const bell = bob.page.getByRole("button", { name: "Notifications (1)" });
  await expect(bell).toBeVisible();
  await expect(log(bob.page).locator(".mention-me")).toHaveText(`@${bob.person.handle}`);
  await bell.click();
  await expect(bob.page.getByText(`${ann.person.displayName} mentioned you in ${room}`)).toBeVisible();
  await bob.page.getByRole("button", { name: "Mark all read" }).click();
  await expect(bob.page.getByRole("button", { name: "Notifications", exact: true })).toBeVisible();
});

test("an invitation accepted from the notifications puts the room in the sidebar", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Secret");
  await ann.page.getByRole("button", { name: "New room" }).click();
  await ann.page.getByLabel("Room name").fill(room);
  await ann.page.getByLabel("Private").check();
  await ann.page.getByRole("button", { name: "Create room" }).click();
  await expect(ann.page.getByRole("textbox", { name: "Message" })).toBeVisible();
  await ann.page.getByRole("button", { name: "Invite", exact: true }).first().click();
  const form = ann.page.getByRole("form", { name: "Invite someone" });
  await form.getByLabel("Handle").fill(bob.person.handle);
  await form.getByRole("button", { name: "Invite" }).click();
  await expect(form.getByText(`Invited @${bob.person.handle}.`)).toBeVisible();

  await bob.page.getByRole("button", { name: "Notifications (1)" }).click();
  await expect(bob.page.getByText(`${ann.person.displayName} invited you to ${room}`)).toBeVisible();
  await bob.page.getByRole("button", { name: "Accept" }).click();
  const sidebar = bob.page.getByRole("navigation", { name: "Rooms" });
  await expect(sidebar.getByRole("link", { name: room })).toBeVisible();
  await expect(bob.page.getByRole("button", { name: "Accept" })).toHaveCount(0);

  // Ann hears that Bob accepted.
  await expect(ann.page.getByRole("button", { name: "Notifications (1)" })).toBeVisible();
});

test("a person can change their display name", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  await openUserMenu(ann.page, ann.person.displayName);
  await ann.page.getByRole("button", { name: "Edit name" }).click();
  await ann.page.getByRole("textbox", { name: "Display name" }).fill("Ann <b>Lee</b>");
  await ann.page.getByRole("button", { name: "Save" }).click();
  const header = ann.page.getByRole("banner");
  await expect(header.getByText("Ann <b>Lee</b>")).toBeVisible();
  await expect(header.locator("b")).toHaveCount(0);
});
