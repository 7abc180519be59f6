import { expect, test } from "@playwright/test";
import {
  closeContexts,
  createRoom,
  joinRoom,
  log,
  newPerson,
  personIn,
  registerThroughApi,
  reopen,
  send,
  uniqueRoom,
} from "./helpers";

test.afterEach(closeContexts);

test("a message sent by one person appears for another without reload", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Lobby");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);

  await send(ann.page, "Hello from Ann");

  const message = log(bob.page).getByRole("article").filter({ hasText: "Hello from Ann" });
  await expect(message).toHaveCount(1);
  await expect(message).toContainText(ann.person.displayName);
  await expect(log(ann.page).getByRole("article").filter({ hasText: "Hello from Ann" })).toHaveCount(1);
});

test("messages read as they arrive are marked read, without a request per message", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Busy");
  await createRoom(ann.page, room);
  const roomId = ann.page.url().split("/rooms/")[1];
  await joinRoom(bob.page, room);
  let marks = 0;
  bob.page.on("request", (request) => {
    if (request.url().endsWith("/api/mark_room_read")) marks += 1;
  });

  // A burst of 20, as a busy room delivers them, while Bob has it open.
  const started = Date.now();
  const sends = [];
  for (let i = 1; i <= 20; i++) {
    sends.push(
      ann.page.request.post("/api/send_message", {
        form: { room_id: roomId, body: `busy ${i}`, client_msg_id: `busy-${i}` },
      }),
    );
  }
  for (const response of await Promise.all(sends)) {
    expect(response.status()).toBe(200);
  }
  await expect(log(bob.page).getByRole("article")).toHaveCount(20);

  // Bob has read them all, as the server sees it...
  await expect
    .poll(async () => {
      const rooms = await (await bob.page.request.post("/api/rooms")).json();
      return rooms.joined.find((joined: { id: string }) => joined.id === roomId)?.unread;
    })
    .toBe(0);
  // ...in a few requests: one at a time, at most one a second (one per
  // message would be 20).
  const seconds = Math.ceil((Date.now() - started) / 1000);
  expect(marks).toBeGreaterThan(0);
  expect(marks).toBeLessThanOrEqual(Math.min(seconds + 2, 12));
});

test("a person who was offline sees every missed message exactly once, and again after reload", async ({
  browser,
}) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Offline");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);
  await send(ann.page, "before");
  await expect(log(bob.page).getByRole("article").filter({ hasText: "before" })).toHaveCount(1);

  await bob.page.context().setOffline(true);
  await expect(bob.page.getByRole("status")).toHaveText("Reconnecting…");
  // After a few seconds down, a banner says so.
  await expect(bob.page.getByText("Connection lost. Reconnecting…")).toBeVisible();
  for (const text of ["missed one", "missed two", "missed three"]) {
    await send(ann.page, text);
  }
  await expect(log(ann.page).getByRole("article").filter({ hasText: "missed three" })).toHaveCount(1);
  await bob.page.context().setOffline(false);

  await expect(bob.page.getByRole("status")).toHaveText("Live", { timeout: 20_000 });
  for (const text of ["missed one", "missed two", "missed three"]) {
    await expect(log(bob.page).getByRole("article").filter({ hasText: text })).toHaveCount(1);
  }
  const order = await log(bob.page).getByRole("article").locator(".body").allTextContents();
  expect(order).toEqual(["before", "missed one", "missed two", "missed three"]);

  await reopen(bob.page);
  await expect(log(bob.page).getByRole("article")).toHaveCount(4);
});

test("a member invites someone to a private room by handle, found by name", async ({ browser, request }) => {
  const ann = await personIn(browser, "Ann");
  const bob = newPerson("Bob");
  await registerThroughApi(request, bob);
  await ann.page.getByRole("button", { name: "New room" }).click();
  const room = uniqueRoom("Private");
  await ann.page.getByLabel("Room name").fill(room);
  await ann.page.getByLabel("Private").check();
  await ann.page.getByRole("button", { name: "Create room" }).click();
  await expect(ann.page.getByRole("textbox", { name: "Message" })).toBeVisible();

  await ann.page.getByRole("button", { name: "Invite", exact: true }).first().click();
  const form = ann.page.getByRole("form", { name: "Invite someone" });
  // Typing a word of Bob's name suggests him (they share no room yet).
  await form.getByLabel("Handle").fill(bob.displayName.split(" ")[1]);
  await form.getByRole("list", { name: "Suggestions" }).getByRole("button", { name: `@${bob.handle}` }).click();
  await expect(form.getByLabel("Handle")).toHaveValue(bob.handle);
  await form.getByRole("button", { name: "Invite", exact: true }).click();
  await expect(form.getByText(`Invited @${bob.handle}.`)).toBeVisible();

  await form.getByLabel("Handle").fill("nobody-here");
  await form.getByRole("button", { name: "Invite" }).click();
  await expect(ann.page.getByRole("alert")).toHaveText("Nobody has the handle @nobody-here.");
});

test("markup in a message is shown as text and never runs", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  let dialogs = 0;
  ann.page.on("dialog", async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });
  await createRoom(ann.page, uniqueRoom("XSS"));

  const attack = "<img src=x onerror=alert(1)>";
  await send(ann.page, attack);

  await expect(log(ann.page).getByRole("article").filter({ hasText: attack })).toHaveCount(1);
  await expect(log(ann.page).locator("img")).toHaveCount(0);

  // Web links become links; other schemes stay text.
  await send(ann.page, "docs at http://127.0.0.1:9/guide. and javascript:alert(1)");
  const link = log(ann.page).getByRole("link", { name: "http://127.0.0.1:9/guide" });
  await expect(link).toHaveAttribute("href", "http://127.0.0.1:9/guide");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer nofollow");
  // (Each message's own "Link to this message" aside: in bodies, one link.)
  await expect(log(ann.page).locator(".body").getByRole("link")).toHaveCount(1);
  await reopen(ann.page);
  await expect(log(ann.page).getByRole("article").filter({ hasText: attack })).toHaveCount(1);
  expect(dialogs).toBe(0);
});

test("scrolling to the top of a long room loads older messages", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const room = uniqueRoom("Long");
  await createRoom(ann.page, room);
  const roomId = ann.page.url().split("/rooms/")[1];
  // 60 messages: more than the first page (50) shows.
  for (let i = 1; i <= 60; i++) {
    const response = await ann.page.request.post("/api/send_message", {
      form: { room_id: roomId, body: `message ${i}`, client_msg_id: `long-${i}` },
    });
    expect(response.status()).toBe(200);
  }
  await reopen(ann.page);
  const articles = log(ann.page).getByRole("article");
  await expect(articles).toHaveCount(50);
  await expect(ann.page.getByRole("button", { name: "Load older" })).toBeVisible();

  await log(ann.page).evaluate((element) => element.scrollTo(0, 0));
  await expect(articles).toHaveCount(60);
  await expect(articles.first()).toContainText("message 1");
  await expect(ann.page.getByRole("button", { name: "Load older" })).toHaveCount(0);
});

test("the tabs of one browser share one event stream, and closing the leading tab loses nothing", async ({
  browser,
}) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const room = uniqueRoom("Tabs");
  await createRoom(ann.page, room);
  await joinRoom(bob.page, room);
  const context = bob.page.context();
  // Bob's first tab opened the stream: it leads.
  await expect(bob.page.locator("body")).toHaveAttribute("data-stream", "leader");
  let streams = 0;
  context.on("request", (request) => {
    if (request.url().endsWith("/api/events")) streams += 1;
  });
  const tabs = [bob.page];
  for (let i = 1; i < 10; i++) {
    const tab = await context.newPage();
    await tab.goto(bob.page.url());
    await tab.locator("body[data-hydrated]").waitFor();
    tabs.push(tab);
  }
  for (const tab of tabs) {
    await expect(tab.getByRole("status")).toHaveText("Live");
  }
  for (const tab of tabs.slice(1)) {
    await expect(tab.locator("body")).toHaveAttribute("data-stream", "follower");
  }
  expect(streams, "nine more tabs opened no stream").toBe(0);

  await send(ann.page, "to every tab");
  for (const tab of tabs) {
    await expect(log(tab).getByRole("article").filter({ hasText: "to every tab" })).toHaveCount(1);
  }

  // The leading tab closes; another takes over, and catches up on what
  // was sent meanwhile.
  await tabs[0].close();
  const rest = tabs.slice(1);
  await send(ann.page, "after the leader left");
  for (const tab of rest) {
    await expect(log(tab).getByRole("article").filter({ hasText: "after the leader left" })).toHaveCount(1);
    await expect(log(tab).getByRole("article").filter({ hasText: "to every tab" })).toHaveCount(1);
    await expect(tab.getByRole("status")).toHaveText("Live");
  }
  const roles = await Promise.all(rest.map((tab) => tab.locator("body").getAttribute("data-stream")));
  expect(roles.filter((role) => role === "leader")).toHaveLength(1);
  expect(streams, "one new stream, for the new leader").toBe(1);
  // Nothing arrived twice in any tab, even a little later.
  await rest[0].waitForTimeout(1000);
  for (const tab of rest) {
    await expect(log(tab).getByRole("article")).toHaveCount(2);
  }

  // A leader the browser freezes (a background tab on a phone) lets the
  // stream go when told `freeze`, and another tab leads. Headless Chromium
  // freezes only hidden pages and a test page is never hidden, so the
  // page lifecycle's events are dispatched here by hand.
  const leader = rest[roles.indexOf("leader")];
  await leader.evaluate(() => document.dispatchEvent(new Event("freeze")));
  const awake = rest.filter((tab) => tab !== leader);
  const leaders = async () =>
    (await Promise.all(awake.map((tab) => tab.locator("body").getAttribute("data-stream")))).filter(
      (role) => role === "leader",
    ).length;
  await expect.poll(leaders).toBe(1);
  await send(ann.page, "while one tab sleeps");
  for (const tab of awake) {
    await expect(log(tab).getByRole("article").filter({ hasText: "while one tab sleeps" })).toHaveCount(1);
  }
  await leader.evaluate(() => document.dispatchEvent(new Event("resume")));
  await expect(leader.locator("body")).toHaveAttribute("data-stream", "follower");
  // (Ten tabs of WebAssembly on two cores: catching up may take a while.)
  await expect(log(leader).getByRole("article").filter({ hasText: "while one tab sleeps" })).toHaveCount(1, {
    timeout: 15_000,
  });
  expect(await leaders()).toBe(1);
});
