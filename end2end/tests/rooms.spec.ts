import { expect, test } from "@playwright/test";
import {
  closeContexts,
  createRoom,
  joinRoom,
  log,
  personIn,
  reopen,
  send,
  uniqueRoom,
} from "./helpers";

test.afterEach(closeContexts);

test("a direct message from the members pane appears live for the other person, who replies", async ({
  browser,
}) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Shared");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);

  const members = ann.page.getByRole("complementary", { name: "Members" });
  await members.getByRole("button", { name: `Message ${bob.person.displayName}` }).click();
  await expect(ann.page.getByRole("heading", { name: bob.person.displayName })).toBeVisible();
  await expect(ann.page).toHaveURL(/\/rooms\/[0-9a-f]{32}$/);
  const direct = ann.page.url();
  await send(ann.page, "Hi Bob, just between us");

  // Bob's sidebar gets the conversation live, with its unread count.
  const bobsDirect = bob.page.getByRole("navigation", { name: "Direct messages" });
  const link = bobsDirect.getByRole("link", { name: ann.person.displayName });
  await expect(link).toBeVisible();
  await expect(link).toContainText("1");
  await link.click();
  await expect(log(bob.page).getByRole("article").filter({ hasText: "Hi Bob, just between us" })).toBeVisible();
  await send(bob.page, "Hi Ann");
  await expect(log(ann.page).getByRole("article").filter({ hasText: "Hi Ann" })).toBeVisible();
  // Neither room settings nor invitations in a direct room.
  await expect(bob.page.getByRole("button", { name: "Room settings" })).toHaveCount(0);
  await expect(bob.page.getByRole("button", { name: "Invite" })).toHaveCount(0);

  // "New message" suggests people by handle and finds the same room.
  await bob.page.getByRole("button", { name: "New message" }).click();
  await bob.page.getByRole("textbox", { name: "People" }).fill(ann.person.handle.slice(0, 8));
  const suggestions = bob.page.getByRole("list", { name: "Suggestions" });
  await suggestions.getByRole("button", { name: ann.person.displayName }).click();
  await expect(bob.page.getByRole("textbox", { name: "People" })).toHaveValue(`${ann.person.handle}, `);
  await bob.page.getByRole("button", { name: "Start" }).click();
  await expect(bob.page).toHaveURL(direct);

  // Hidden from Bob's list until the next message.
  await bob.page.getByRole("button", { name: "Hide conversation" }).click();
  await expect(link).toHaveCount(0);
  await send(ann.page, "Still there?");
  await expect(link).toBeVisible();
});

test("the owner renames a room, sets a topic and removes a member, who sees each change live", async ({
  browser,
}) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Running");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);
  await expect(bob.page.getByRole("button", { name: "Room settings" })).toHaveCount(0);

  // Bob's own level for the room, kept across a reload.
  const level = bob.page.getByRole("combobox", { name: "Notifications for this room" });
  await level.selectOption({ label: "Mentions only" });
  await expect(level).toHaveValue("mentions");

  const renamed = uniqueRoom("Renamed");
  await ann.page.getByRole("button", { name: "Room settings" }).click();
  await ann.page.getByRole("textbox", { name: "Room name" }).fill(renamed);
  await ann.page.getByRole("textbox", { name: "Topic" }).fill("Plans for the week");
  await ann.page.getByRole("button", { name: "Save" }).click();

  await expect(bob.page.getByRole("heading", { name: renamed })).toBeVisible();
  await expect(bob.page.getByText("Plans for the week")).toBeVisible();
  const bobsRooms = bob.page.getByRole("navigation", { name: "Rooms" });
  await expect(bobsRooms.getByRole("link", { name: renamed })).toBeVisible();
  await reopen(bob.page);
  await expect(bob.page.getByRole("combobox", { name: "Notifications for this room" })).toHaveValue("mentions");

  const settings = ann.page.getByRole("region", { name: "Room settings" });
  await settings.getByRole("listitem").filter({ hasText: bob.person.displayName }).getByRole("button", { name: "Remove" }).click();
  await expect(bobsRooms.getByRole("link", { name: renamed })).toHaveCount(0);
  await expect(bob.page.getByRole("heading", { name: "You are no longer a member of this room" })).toBeVisible();
  await expect(bob.page.getByRole("textbox", { name: "Message" })).toHaveCount(0);
});
