import { expect, test } from "@playwright/test";
import { closeContexts, createRoom, joinRoom, log, personIn, send, uniqueRoom } from "./helpers";

test.afterEach(closeContexts);

test("edits, reactions, replies and deletions show live on both sides", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Lifecycle");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);
  await send(ann.page, "Lunch at noon");

  // Ann edits; Bob sees the new text marked "(edited)".
  const annsMessage = log(ann.page).getByRole("article").filter({ hasText: "Lunch at noon" });
  await annsMessage.hover();
  await annsMessage.getByRole("button", { name: "Edit" }).click();
  const box = ann.page.getByRole("textbox", { name: "Edit message" });
  await box.fill("Lunch at one");
  await box.press("Enter");
  const bobsView = log(bob.page).getByRole("article").filter({ hasText: "Lunch at one" });
  await expect(bobsView).toContainText("(edited)");

  // Bob reacts; the toggle is pressed for him, not for Ann.
  await bobsView.hover();
  await bobsView.getByRole("button", { name: "React" }).click();
  await bobsView.getByRole("group", { name: "Pick a reaction" }).getByRole("button", { name: "👍", exact: true }).click();
  await expect(bobsView.getByRole("button", { name: "👍 1" })).toHaveAttribute("aria-pressed", "true");
  const annsView = log(ann.page).getByRole("article").filter({ hasText: "Lunch at one" });
  await expect(annsView.getByRole("button", { name: "👍 1" })).toHaveAttribute("aria-pressed", "false");

  // Bob replies; Ann sees the reply with the excerpt, and is told.
  await bobsView.hover();
  await bobsView.getByRole("button", { name: "Reply" }).click();
  await expect(bob.page.getByText(`Replying to ${ann.person.displayName}`)).toBeVisible();
  await send(bob.page, "Works for me");
  await expect(bob.page.getByRole("button", { name: "Cancel reply" })).toHaveCount(0);
  const reply = log(ann.page).getByRole("article").filter({ hasText: "Works for me" });
  await expect(reply.getByRole("button", { name: /Lunch at one/ })).toBeVisible();
  await expect(ann.page.getByRole("button", { name: "Notifications (1)" })).toBeVisible();
  // The notification opens the reply itself.
  await ann.page.getByRole("button", { name: "Notifications (1)" }).click();
  await ann.page.getByRole("link", { name: "Open message" }).click();
  await expect(ann.page).toHaveURL(/\?message=\d+-\d+$/);
  await expect(reply).toBeFocused();
  // The list closes again from its button.
  await ann.page.getByRole("button", { name: /^Notifications/ }).click();
  await expect(ann.page.getByRole("link", { name: "Open message" })).toHaveCount(0);

  // Ann deletes hers; Bob sees the placeholder, and the reply says so.
  const original = log(ann.page).getByRole("article").filter({ hasText: "Lunch at one" }).filter({ hasNotText: "Works for me" });
  await original.hover();
  await original.getByRole("button", { name: "Delete" }).click();
  await expect(log(bob.page).getByText("This message was deleted.")).toBeVisible();
  await expect(log(bob.page).getByRole("article").filter({ hasText: "Works for me" })).toContainText("Original message deleted");
  await expect(log(bob.page).getByRole("button", { name: "👍 1" })).toHaveCount(0);
});

test("formatting renders, raw HTML stays text, and @ suggests members by keyboard", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const dialogs: string[] = [];
  bob.page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const room = uniqueRoom("Formatting");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);
  const attack = "<img src=x onerror=alert(1)>";
  await send(ann.page, `**bold** *also bold* _italic_ and \`${attack}\`\n> ${attack}\n\n- one\n- two`);
  const message = log(bob.page).getByRole("article").filter({ hasText: "italic" });
  await expect(message.locator("strong")).toHaveText(["bold", "also bold"]);
  await expect(message.locator("em")).toHaveText("italic");
  await expect(message.locator("code")).toHaveText(attack);
  await expect(message.locator("blockquote")).toContainText(attack);
  await expect(message.getByRole("listitem")).toHaveText(["one", "two"]);
  await expect(message.locator("img")).toHaveCount(0);
  expect(dialogs).toEqual([]);

  // "@" and a few letters: the member, picked with the keyboard.
  const box = bob.page.getByRole("textbox", { name: "Message" });
  await box.pressSequentially(`hi @${ann.person.handle.slice(0, 5)}`);
  const suggestions = bob.page.getByRole("listbox", { name: "Mention suggestions" });
  await expect(suggestions.getByRole("option", { name: ann.person.displayName })).toHaveAttribute("aria-selected", "true");
  await box.press("Enter");
  await expect(box).toHaveValue(`hi @${ann.person.handle} `);
  await expect(suggestions).toHaveCount(0);
  await box.press("Enter");
  await expect(log(ann.page).getByRole("article").filter({ hasText: "hi @" })).toBeVisible();
});

test("a search finds a message by its words, highlighted, and opens it in its room", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Search");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);
  await send(ann.page, "the deploy key is in vault");
  for (const text of ["deploy tonight?", "the vault is locked", "lunch?"]) {
    await send(ann.page, text);
  }
  // Bob is elsewhere: the result takes him to the room and the message.
  await bob.page.goto("/");
  await bob.page.locator("body[data-hydrated]").waitFor();
  await bob.page.getByRole("searchbox", { name: "Search messages" }).fill("deploy vau");
  const results = bob.page.getByRole("list", { name: "Search results" });
  await expect(results.getByRole("link")).toHaveCount(1);
  const hit = results.getByRole("link");
  await expect(hit).toContainText(room);
  await expect(hit).toContainText(ann.person.displayName);
  await expect(hit.locator("mark")).toHaveText(["deploy", "vault"]);
  await hit.click();
  await expect(bob.page).toHaveURL(/\/rooms\/[^?]+\?message=\d+-\d+$/);
  const message = log(bob.page).getByRole("article").filter({ hasText: "the deploy key is in vault" });
  await expect(message).toBeFocused();
  await expect(message).toHaveClass(/highlighted/);
  await expect(results).toHaveCount(0);
});
