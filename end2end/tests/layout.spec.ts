import { expect, test, type Page } from "@playwright/test";
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

/** Creates a public room through the API, with the page's cookies. */
async function roomThroughApi(page: Page, name: string): Promise<string> {
  const response = await page.request.post("/api/create_room", { form: { name, private: "false" } });
  expect(response.status()).toBe(200);
  return (await response.json()).id;
}

/** Nothing on the page reaches past the viewport's right edge. */
async function expectNoSidewaysScroll(page: Page) {
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll("body *")]
      .filter((element) => {
        const box = element.getBoundingClientRect();
        const style = getComputedStyle(element);
        return box.width > 0 && style.visibility !== "hidden" && (box.right > width + 0.5 || box.left < -0.5);
      })
      .map((element) => `${element.tagName}.${element.className}`);
    return { scroll: document.documentElement.scrollWidth - width, wide };
  });
  expect(overflow).toEqual({ scroll: 0, wide: [] });
}

async function expectTouchTarget(page: Page, locator: ReturnType<Page["locator"]>) {
  const box = await locator.boundingBox();
  expect(box, "the control is laid out").not.toBeNull();
  expect(box!.height).toBeGreaterThanOrEqual(44);
  expect(box!.width).toBeGreaterThanOrEqual(44);
}

for (const viewport of [
  { width: 360, height: 740 },
  { width: 320, height: 640 },
]) {
  test(`on a ${viewport.width} px phone one pane shows at a time, and every pane is reachable`, async ({
    browser,
  }) => {
    const ann = await personIn(browser, "Ann", { viewport, hasTouch: true, isMobile: true });
    const page = ann.page;
    const first = uniqueRoom("Phone one");
    const second = uniqueRoom("Phone two");
    await roomThroughApi(page, first);
    await roomThroughApi(page, second);
    await page.reload();
    await page.locator("body[data-hydrated]").waitFor();

    // Home: the room list, no conversation.
    const rooms = page.getByRole("navigation", { name: "Rooms" });
    await expect(rooms.getByRole("link", { name: first })).toBeVisible();
    await expect(page.getByRole("textbox", { name: "Message" })).toHaveCount(0);
    await expectNoSidewaysScroll(page);
    await expectTouchTarget(page, rooms.getByRole("link", { name: first }));

    // A room opens full-screen, with a way back.
    await rooms.getByRole("link", { name: first }).click();
    await expect(page.getByRole("heading", { name: first })).toBeVisible();
    await expect(rooms).toBeHidden();
    await send(page, "Hello from a phone");
    await expect(log(page).getByRole("article").filter({ hasText: "Hello from a phone" })).toBeVisible();
    await expectNoSidewaysScroll(page);
    await expectTouchTarget(page, page.getByRole("button", { name: "Send" }));
    await expectTouchTarget(page, page.getByRole("link", { name: "Back to rooms" }));
    await expectTouchTarget(page, page.getByRole("button", { name: "Members" }));

    // Members open as a drawer, and close again.
    await page.getByRole("button", { name: "Members" }).click();
    const members = page.getByRole("complementary", { name: "Members" });
    await expect(members.getByRole("list", { name: "Online" })).toContainText(ann.person.displayName);
    // Focus goes into the drawer, and back to its toggle when it closes.
    await expect(members.getByRole("button", { name: "Close members" })).toBeFocused();
    await expectNoSidewaysScroll(page);
    await page.keyboard.press("Enter");
    await expect(members).toBeHidden();
    await expect(page.getByRole("button", { name: "Members" })).toBeFocused();

    // The notifications and the user menu fit too, and Escape closes them.
    await page.getByRole("button", { name: "Notifications" }).click();
    await expect(page.getByRole("region", { name: "Notification list" })).toBeVisible();
    await expectNoSidewaysScroll(page);
    await page.keyboard.press("Escape");
    await expect(page.getByRole("region", { name: "Notification list" })).toBeHidden();

    await openUserMenu(page, ann.person.displayName);
    await expect(page.getByRole("button", { name: "Edit name" })).toBeVisible();
    await expectNoSidewaysScroll(page);
    await page.keyboard.press("Escape");
    await expect(page.getByRole("button", { name: "Edit name" })).toBeHidden();

    // Back to the list, and into the other room.
    await page.getByRole("link", { name: "Back to rooms" }).click();
    await rooms.getByRole("link", { name: second }).click();
    await expect(page.getByRole("heading", { name: second })).toBeVisible();
    await expect(log(page).getByText("No messages yet.")).toBeVisible();
    await expectNoSidewaysScroll(page);

    // A room that is not in the list (left, or an old link) still has a
    // way back.
    await page.goto("/rooms/0123456789abcdef0123456789abcdef");
    await expect(page.getByRole("heading", { name: "This room is not in your list" })).toBeVisible();
    await page.getByRole("link", { name: "Back to rooms" }).click();
    await expect(rooms.getByRole("link", { name: first })).toBeVisible();
  });
}

test("avatars and icons: initials on a colour, an SVG bell, a user menu in the header", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const page = ann.page;
  // An empty home says what to do.
  await expect(page.getByRole("navigation", { name: "Rooms" })).toContainText("No rooms yet.");
  await createRoom(page, uniqueRoom("Faces"));
  await send(page, "hi");
  const avatar = log(page).getByRole("article").first().locator(".avatar");
  await expect(avatar).toHaveText(/^A/);
  await expect(avatar).toHaveAttribute("aria-hidden", "true");
  const bell = page.getByRole("button", { name: "Notifications", exact: true });
  await expect(bell.locator("svg")).toHaveCount(1);
  expect(await bell.textContent()).not.toContain("🔔");
  // The menu button names the person; the menu holds the account actions.
  const menuButton = page.getByRole("banner").getByRole("button", { name: ann.person.displayName });
  await expect(menuButton).toHaveAttribute("aria-expanded", "false");
  await expect(page.getByRole("button", { name: "Sign out" })).toBeHidden();
  await menuButton.click();
  await expect(menuButton).toHaveAttribute("aria-expanded", "true");
  for (const name of ["Edit name", "Account", "Sign out"]) {
    await expect(page.getByRole("banner").getByRole("button", { name, exact: true })).toBeVisible();
  }
  // A click elsewhere closes it.
  await log(page).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeHidden();
});

test("a room opens at a New messages divider; Jump to latest counts what arrived below", async ({
  browser,
}) => {
  const ann = await personIn(browser, "Ann");
  const bob = await personIn(browser, "Bob");
  const refused: string[] = [];
  bob.page.on("response", (response) => {
    if (response.status() === 429) refused.push(response.url());
  });
  const room = uniqueRoom("Divider");
  await createRoom(ann.page, room);
  const roomId = ann.page.url().split("/rooms/")[1];
  await joinRoom(bob.page, room);
  await send(ann.page, "read before");
  await expect(log(bob.page).getByRole("article").filter({ hasText: "read before" })).toHaveCount(1);

  // Bob looks elsewhere while Ann writes three more.
  await bob.page.goto("/");
  for (const text of ["unread one", "unread two", "unread three"]) {
    await send(ann.page, text);
  }
  await expect(bob.page).toHaveTitle("(3) Redchat");
  await expect(bob.page.locator("link[rel=icon]")).toHaveAttribute("href", "/favicon-unread.svg");
  await bob.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: room }).click();
  const divider = log(bob.page).getByRole("separator", { name: "New messages" });
  await expect(divider).toBeVisible();
  // Right before the first unread message.
  await expect(divider.locator("xpath=following-sibling::article[1]")).toContainText("unread one");
  await expect(divider.locator("xpath=preceding-sibling::article[1]")).toContainText("read before");
  await expect(bob.page).toHaveTitle("Redchat");

  // Enough messages to scroll; Bob scrolls up; two more arrive.
  const sends = [];
  for (let i = 1; i <= 30; i++) {
    sends.push(
      ann.page.request.post("/api/send_message", {
        form: { room_id: roomId, body: `filler ${i}`, client_msg_id: `filler-${i}-${Date.now()}` },
      }),
    );
  }
  for (const response of await Promise.all(sends)) expect(response.status()).toBe(200);
  await expect(log(bob.page).getByRole("article")).toHaveCount(34);
  // Once the log has followed them to the bottom, Bob scrolls up.
  const fromBottom = () =>
    log(bob.page).evaluate((element) => element.scrollHeight - element.scrollTop - element.clientHeight);
  await expect.poll(fromBottom).toBeLessThan(5);
  await log(bob.page).evaluate((element) => element.scrollTo(0, 0));
  await expect.poll(fromBottom).toBeGreaterThan(200);
  await send(ann.page, "below one");
  await send(ann.page, "below two");
  const jump = bob.page.getByRole("button", { name: /Jump to latest/ });
  await expect(jump).toContainText("2 new");
  await jump.click();
  await expect(jump).toBeHidden();
  await expect(log(bob.page).getByRole("article").filter({ hasText: "below two" })).toBeInViewport();
  // Opening, reading and scrolling the room stayed within every rate limit.
  expect(refused).toEqual([]);
});

test("Ctrl+K switches rooms by a few letters, Alt+Down moves to the next room", async ({ browser }) => {
  const ann = await personIn(browser, "Ann");
  const page = ann.page;
  const alpha = uniqueRoom("Alpha keys");
  const beta = uniqueRoom("Beta keys");
  const gamma = uniqueRoom("Gamma keys");
  await createRoom(page, alpha);
  await createRoom(page, gamma);
  await createRoom(page, beta);
  await expect(page.getByRole("heading", { name: beta })).toBeVisible();

  await page.keyboard.press("Control+k");
  const dialog = page.getByRole("dialog", { name: "Switch room" });
  await expect(dialog).toBeVisible();
  // The whole name: the others' random suffixes may hold any few letters.
  await page.keyboard.type(alpha);
  await expect(dialog.getByRole("option")).toHaveCount(1);
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("heading", { name: alpha })).toBeVisible();

  await page.keyboard.press("Control+k");
  await expect(dialog).toBeVisible();
  // Focus moves into the dialog on the next frame; Escape is its key.
  await expect(dialog.getByRole("combobox", { name: "Room to open" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();

  // Up in an empty composer goes to one's last message.
  await send(page, "my last words");
  await page.getByRole("textbox", { name: "Message" }).press("ArrowUp");
  await expect(log(page).getByRole("article").filter({ hasText: "my last words" })).toBeFocused();

  // The rooms are listed by name: Alpha, Beta, Gamma.
  await page.keyboard.press("Alt+ArrowDown");
  await expect(page.getByRole("heading", { name: beta })).toBeVisible();
  await page.keyboard.press("Alt+ArrowDown");
  await expect(page.getByRole("heading", { name: gamma })).toBeVisible();
  await page.keyboard.press("Alt+ArrowUp");
  await expect(page.getByRole("heading", { name: beta })).toBeVisible();
});
