import { describe, expect, it } from "vitest";
import { LocalSession } from "./session";

describe("LocalSession", () => {
  it("keeps the token for this tab until shortly before it expires", async () => {
    let now = 1_000_000;
    const session = new LocalSession(sessionStorage, () => now);
    expect(session.isSignedIn()).toBe(false);
    session.store("tok", 60);
    expect(await session.authorization()).toBe("Bearer tok");
    now += 49_000;
    expect(session.isSignedIn()).toBe(true);
    now += 2_000; // within 10 s of expiry: as good as expired
    expect(session.isSignedIn()).toBe(false);
    expect(await session.authorization()).toBeNull();
  });

  it("forgets the token on sign-out and ignores junk in storage", async () => {
    const session = new LocalSession(sessionStorage, () => 0);
    session.store("tok", 3600);
    await session.signOut();
    expect(session.isSignedIn()).toBe(false);
    sessionStorage.setItem("dursor.session", "{not json");
    expect(session.isSignedIn()).toBe(false);
  });
});
